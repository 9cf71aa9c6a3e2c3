"""Bridges from observability tools into Kafka, approval ingress, and action executors."""
