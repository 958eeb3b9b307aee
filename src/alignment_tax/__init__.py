"""alignment-tax: measure what safety training costs a language model in capability."""

__version__ = "0.1.0"
