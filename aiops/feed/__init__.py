"""The read-only feed: the latest records of the output topics as JSON, for Grafana tables (Infinity)."""
