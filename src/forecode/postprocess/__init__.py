"""Turning raw model output into suggestions: scope, and later filters and ranking."""
