"""Analysis: paired tax statistics, its decomposition, safety metrics and the results file."""
