"""The write model: commands, domain rules, handlers and the unit of work of the command side."""
