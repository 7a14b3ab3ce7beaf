"""HTTP entrypoints: the command API, the query API and what they share."""
