"""Configurations: a model plus a stack of interventions, experiment files and fingerprints."""
