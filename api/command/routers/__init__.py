"""One router per resource; each can be mounted on its own."""
