"""The query API: reads only Elasticsearch views."""
