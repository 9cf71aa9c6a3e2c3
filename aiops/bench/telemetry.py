"""Synthetic telemetry for the benchmarks: JSON log lines and OTLP trace requests of a small shop."""

from __future__ import annotations

import json
import random
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

SERVICES = ["web-frontend", "api-gateway", "checkout-api", "orders-api", "payments-api", "search-api",
            "inventory-api", "cart-api", "users-api", "shipping-api"]
# Per service: shapes of its lines; {n} is a number, {h} a hex id, {p} a path.
LINE_SHAPES = [
    ("info", "GET {p} 200 in {n}ms"), ("info", "POST {p} 201 in {n}ms"), ("info", "cache hit for key user:{n}"),
    ("info", "processed batch {n} with {n} items"), ("warning", "slow query took {n}ms on table orders"),
    ("info", "connection pool stats active={n} idle={n}"), ("error", "upstream {h} returned 503 after {n}ms"),
    ("warning", "retrying request {h} attempt {n}"),
]


def log_lines(count: int, seed: int = 7, start: float | None = None) -> list[bytes]:
    """`count` Vector-style JSON lines a millisecond apart from `start` (default: five minutes ago), ten
    services, eight shapes each."""
    rng = random.Random(seed)  # noqa: S311 - synthetic telemetry, reproducible by seed
    now = time.time() - 300 if start is None else start
    lines = []
    for i in range(count):
        service = SERVICES[i % len(SERVICES)]
        level, shape = LINE_SHAPES[rng.randrange(len(LINE_SHAPES))]
        message = shape.replace("{p}", f"/api/{service.split('-')[0]}/{rng.randrange(10_000)}")
        while "{n}" in message:
            message = message.replace("{n}", str(rng.randrange(1, 5000)), 1)
        message = message.replace("{h}", f"{rng.getrandbits(32):08x}")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now + i * 0.001)) + f".{i % 1000:03d}Z"
        lines.append(json.dumps({
            "timestamp": stamp, "message": message, "level": level, "service": service,
            "trace_id": f"{rng.getrandbits(128):032x}", "host": f"pod-{i % 7}", "source_type": "kubernetes_logs",
        }, separators=(",", ":")).encode())
    return lines


def trace_requests(spans: int, per_request: int = 50, seed: int = 11, start: float | None = None) -> list[bytes]:
    """OTLP ExportTraceServiceRequests (protobuf) of `per_request` spans each: call chains through the shop,
    server and client spans, about 2% errors; from `start` (epoch seconds; default five minutes ago)."""
    rng = random.Random(seed)  # noqa: S311 - synthetic telemetry, reproducible by seed
    start_ns = int((time.time() - 300 if start is None else start) * 1e9)
    requests = []
    made = 0
    while made < spans:
        request = ExportTraceServiceRequest()
        by_service: dict[str, list[Span]] = {}
        while sum(len(v) for v in by_service.values()) < per_request and made < spans:
            trace_id = rng.getrandbits(128).to_bytes(16, "big")
            depth = 1 + rng.randrange(4)
            chain = SERVICES[:1] + rng.sample(SERVICES[1:], depth)
            parent = b""
            t0 = start_ns + made * 1_000_000
            for hop, service in enumerate(chain):
                duration = (20 + rng.randrange(200)) * 1_000_000 // (hop + 1)
                server = Span(trace_id=trace_id, span_id=rng.getrandbits(64).to_bytes(8, "big"),
                              parent_span_id=parent, name=f"GET /{service}/{['list', 'get', 'put'][hop % 3]}",
                              kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=t0, end_time_unix_nano=t0 + duration)
                failed = rng.random() < 0.02
                if failed:
                    server.status.code = Status.STATUS_CODE_ERROR
                    server.status.message = "upstream timeout"
                by_service.setdefault(service, []).append(server)
                made += 1
                if hop + 1 < len(chain):
                    client = Span(trace_id=trace_id, span_id=rng.getrandbits(64).to_bytes(8, "big"),
                                  parent_span_id=server.span_id, name=f"call {chain[hop + 1]}",
                                  kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=t0 + 1_000_000,
                                  end_time_unix_nano=t0 + duration - 1_000_000)
                    kv = client.attributes.add()
                    kv.key, kv.value.string_value = "peer.service", chain[hop + 1]
                    by_service[service].append(client)
                    made += 1
                    parent = client.span_id
                t0 += 1_000_000
        for service, service_spans in by_service.items():
            resource_spans = request.resource_spans.add()
            kv = resource_spans.resource.attributes.add()
            kv.key, kv.value.string_value = "service.name", service
            resource_spans.scope_spans.add().spans.extend(service_spans)
        requests.append(request.SerializeToString())
    return requests


def line_templates(count: int, seed: int = 13) -> list[bytes]:
    """JSON lines like `log_lines`, with a `@@TS@@` placeholder for the time, to stamp at send time."""
    placeholder = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(0))
    return [line.replace(placeholder.encode(), b"@@TS@@", 1) for line in log_lines(count, seed, start=0.0)]
