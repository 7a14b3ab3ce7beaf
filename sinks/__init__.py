"""Sink workers: consume Debezium change events and keep the Elasticsearch views converged."""
