"""Interventions that change how a configuration answers."""
