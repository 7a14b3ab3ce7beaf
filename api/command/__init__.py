"""The command API: validates commands, runs their handlers, returns the commit's consistency token."""
