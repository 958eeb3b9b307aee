"""Judging stored answers: correctness scorers, refusal detection, degeneracy and outcome assignment."""
