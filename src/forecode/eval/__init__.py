"""Benchmarks: execution-based infilling, line completion on real code, identifier ranking, latency.

Every benchmark drives the same `Completer` the editor adapters use, writes one JSON object per
sample (`report.SampleLog`) and ends with one JSON object of metrics (`report.emit_metrics`).
"""
