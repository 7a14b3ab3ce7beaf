"""The write model's rules, free of HTTP and of SQL."""
