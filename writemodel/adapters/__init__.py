"""Adapters of the write model's ports."""
