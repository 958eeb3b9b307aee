"""Model backends: turn rendered requests into text."""
