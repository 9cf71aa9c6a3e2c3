"""Decoders from what the observability stack writes (Alertmanager, OTLP, Vector / Fluent Bit JSON lines)
into the canonical records: pure functions, no Kafka. Each raises IngestError with the reason."""

from streams.ingest.alerts import decode_alerts
from streams.ingest.errors import IngestError
from streams.ingest.logs import decode_log_line
from streams.ingest.otlp import decode_logs, decode_spans

__all__ = ["IngestError", "decode_alerts", "decode_log_line", "decode_logs", "decode_spans"]
