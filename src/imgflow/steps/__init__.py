"""One module per state of the workflow: the logic behind each thin handler."""
