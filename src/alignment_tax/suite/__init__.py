"""Items and suites: schemas, loaders and the bundled suites."""
