"""The local stack: real Apache Kafka (KRaft) and OPA run from cached downloads, no Docker needed."""
