"""The ops API: what operators inspect and do, over HTTP (the `farmacy` CLI has the same functions)."""
