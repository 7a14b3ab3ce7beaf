"""Shared kernel of the Farmacy Food CQRS platform: settings, logging, the write model and the CLI."""
