"""Reports: terminal tables, progress and files people read."""
