"""Anomaly detection over condensed telemetry: robust baselines per service and operation, and detectors for
spans (latency, errors, own time, network time, log patterns per operation) and metrics."""
