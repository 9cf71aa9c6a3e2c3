"""AIOps on Kafka: agents that operate a platform from its own telemetry."""

__version__ = "0.1.0"
