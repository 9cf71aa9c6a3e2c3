"""Metrics: what a metric name means (semantic conventions and user mappings), and condensing and judging
metric series against robust baselines."""
