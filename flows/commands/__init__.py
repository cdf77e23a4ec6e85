"""One module per group of CLI sub-commands."""
