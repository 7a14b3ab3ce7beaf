"""Command handlers: plain functions ``handle(cmd, uow)`` holding the business rules, one module per context."""
