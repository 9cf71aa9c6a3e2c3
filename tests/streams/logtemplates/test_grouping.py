"""Grouping accuracy across very different log formats (the Loghub measure: a line is grouped right when its
template holds exactly the lines of its event type). The lines are generated here, per event type, with
random variable parts: sshd, HDFS, an access log, Java, logfmt, Python tracebacks, Android."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from aiops.eval.templates import grouping_accuracy
from streams.logtemplates.miner import ServiceTemplateMiner

Shape = Callable[[], str]


def event_types(rnd: random.Random) -> dict[str, list[Shape]]:
    def ip() -> str:
        return ".".join(str(rnd.randint(lo, 254)) for lo in (10, 0, 0, 1))

    def hexes(n: int) -> str:
        return "".join(rnd.choice("0123456789abcdef") for _ in range(n))

    def port() -> int:
        return rnd.randint(1024, 65535)

    def user() -> str:
        return rnd.choice(["root", "admin", "oracle", "git", "ubuntu"])

    def block() -> str:
        return f"blk_{rnd.choice(['', '-'])}{rnd.randint(10**17, 10**19)}"

    def path() -> str:
        return f"{rnd.choice(['/var/log/app', '/home/u/data', '/opt/svc'])}/{hexes(6)}.{rnd.choice(['log', 'tmp'])}"

    return {
        "sshd": [
            lambda: f"Failed password for invalid user {user()} from {ip()} port {port()} ssh2",
            lambda: f"Accepted publickey for {user()} from {ip()} port {port()} ssh2: RSA SHA256:{hexes(20)}",
            lambda: f"pam_unix(sshd:session): session opened for user {user()} by (uid={rnd.randint(0, 1000)})",
            lambda: f"Received disconnect from {ip()} port {port()}:11: Bye Bye [preauth]",
            lambda: f"Connection closed by {ip()} port {port()} [preauth]",
        ],
        "hdfs": [
            lambda: f"Receiving block {block()} src: /{ip()}:{port()} dest: /{ip()}:50010",
            lambda: f"PacketResponder {rnd.randint(0, 2)} for block {block()} terminating",
            lambda: f"BLOCK* NameSystem.addStoredBlock: blockMap updated: {ip()}:50010 is added to {block()} "
                    f"size {rnd.randint(1, 67108864)}",
            lambda: f"Deleting block {block()} file {path()}",
        ],
        # One event type: drain puts lines that differ in a few of their tokens (method, status, agent) together.
        "access": [
            lambda: f'{ip()} - - "{rnd.choice(["GET", "POST"])} /api/v1/items/{rnd.randint(1, 99999)} HTTP/1.1" '
                    f'{rnd.choice([200, 304, 401])} {rnd.randint(100, 90000)} "-" '
                    f'"{rnd.choice(["Mozilla/5.0", "curl/8.1.0"])}"',
        ],
        "java": [
            lambda: f"[http-nio-8080-exec-{rnd.randint(1, 200)}] o.a.c.c.C.[Tomcat].[localhost] Initializing Spring "
                    "DispatcherServlet 'dispatcherServlet'",
            lambda: f"[pool-{rnd.randint(1, 9)}-thread-{rnd.randint(1, 50)}] c.z.h.pool.HikariPool HikariPool-1 - "
                    f"Connection is not available, request timed out after {rnd.randint(30000, 30100)}ms.",
            lambda: f"[main] o.s.b.w.e.tomcat.TomcatWebServer Tomcat started on port(s): {rnd.choice([8080, 9090])} "
                    "(http) with context path ''",
            lambda: f"java.lang.NullPointerException: Cannot invoke \"String.length()\" because "
                    f"\"{rnd.choice(['name', 'id', 'sku'])}\" is null",
        ],
        "logfmt": [
            lambda: f'level=info msg="request served" method=GET path=/v1/carts/{rnd.randint(1, 9999)} status=200 '
                    f"duration={rnd.randint(1, 900)}ms",
            lambda: f'level=error msg="upstream unavailable" upstream={ip()}:{rnd.randint(8000, 9000)} '
                    f'retry={rnd.randint(1, 5)} err="dial tcp: connection refused"',
            lambda: f'level=warn msg="slow query" table={rnd.choice(["orders", "users"])} rows={rnd.randint(1, 10**6)} '
                    f"took={rnd.random() * 9:.3f}s",
        ],
        "python": [
            lambda: f"Worker {rnd.randint(1, 64)} picked task "
                    f"{hexes(8)}-{hexes(4)}-4{hexes(3)}-a{hexes(3)}-{hexes(12)} "
                    f"from queue {rnd.choice(['default', 'high', 'low'])}",
            lambda: f"Traceback (most recent call last):\n  File \"{path()}\", line {rnd.randint(1, 900)}, in run",
            lambda: f"KeyError: '{rnd.choice(['user_id', 'order', 'sku', 'price'])}'",
            lambda: f"Retrying in {rnd.randint(1, 60)} seconds (attempt {rnd.randint(1, 5)}/5)",
        ],
        "android": [
            lambda: f"ActivityManager: Start proc {rnd.randint(1000, 30000)}:com.example.{rnd.choice(['mail', 'maps'])}"
                    f"/u0a{rnd.randint(10, 300)} for service",
            lambda: f"PowerManagerService: acquire lock={rnd.randint(10**7, 10**9)}, flags=0x{hexes(1)}, "
                    f"tag=\"*job*/{rnd.choice(['sync', 'gc'])}\", ws=null, uid={rnd.randint(1000, 10999)}, "
                    f"pid={rnd.randint(100, 30000)}",
        ],
    }


def sample(shapes: list[tuple[str, Shape]], rnd: random.Random, count: int) -> list[tuple[str, str]]:
    return [(name, shape()) for name, shape in (rnd.choice(shapes) for _ in range(count))]


@pytest.mark.parametrize("log_format", sorted(event_types(random.Random(0))))
def test_each_format_groups_every_line_with_its_event_type(log_format):
    rnd = random.Random(7)
    shapes = [(f"{log_format}:{k}", shape) for k, shape in enumerate(event_types(rnd)[log_format])]
    assert grouping_accuracy(sample(shapes, rnd, 300), ServiceTemplateMiner(service=log_format))[0] == 1.0


def test_one_service_writing_every_format_still_groups_each_event_type_apart():
    rnd = random.Random(11)
    shapes = [(f"{name}:{k}", shape) for name, kinds in event_types(rnd).items() for k, shape in enumerate(kinds)]
    assert grouping_accuracy(sample(shapes, rnd, 1500), ServiceTemplateMiner(service="mixed"))[0] == 1.0
