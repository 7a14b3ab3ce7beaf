"""Command handlers: plain functions ``handle(cmd, uow)`` that load through the unit of work's repositories,
let the domain decide, and save what it decided. One module per bounded context."""
