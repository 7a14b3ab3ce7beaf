"""Request and response models of the command API, one module per resource."""
