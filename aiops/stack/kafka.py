"""Apache Kafka as a single KRaft node (broker and controller in one JVM), from Maven Central jars."""

from __future__ import annotations

import base64
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiops.core.errors import StackError
from aiops.core.settings import Settings
from aiops.stack import process, tools

# Shipped inside the package, so the stack can be provisioned from an installed wheel.
POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
HOST = "127.0.0.1"

_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
"""


@dataclass(frozen=True)
class KafkaPaths:
    jars: Path
    home: Path

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "kafka.log"


def paths(settings: Settings) -> KafkaPaths:
    return KafkaPaths(
        jars=settings.cache_dir / f"kafka-{settings.kafka_version}" / "jars",
        home=settings.state_dir / "kafka",
    )


def ensure_jars(settings: Settings, say: Callable[[str], None] = print) -> Path:
    """Fetch the broker jars once; a later call finds the marker and downloads nothing."""
    jars = paths(settings).jars
    marker = jars / ".complete"
    if marker.exists():
        return jars
    tools.require("java")
    mvn = tools.require("mvn")
    say(f"fetching Apache Kafka {settings.kafka_version} jars from Maven Central into {jars}")
    jars.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(  # noqa: S603
        [mvn, "-q", "-B", "-f", str(POM), f"-Dkafka.version={settings.kafka_version}",
         "dependency:copy-dependencies", f"-DoutputDirectory={jars}", "-DincludeScope=runtime"],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0 or not any(jars.glob("kafka_2.13-*.jar")):
        raise StackError(
            f"Maven could not fetch Kafka {settings.kafka_version}: "
            f"{(result.stdout + result.stderr).strip()[-1500:]}"
        )
    marker.write_text(settings.kafka_version)
    return jars


def _server_properties(settings: Settings, data: Path) -> str:
    # Internal topics sized for one node so that consumer groups and transactions work.
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{HOST}:{settings.kafka_controller_port}
listeners=PLAINTEXT://{HOST}:{settings.kafka_port},CONTROLLER://{HOST}:{settings.kafka_controller_port}
advertised.listeners=PLAINTEXT://{HOST}:{settings.kafka_port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={data}
num.partitions={settings.default_partitions}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
"""


def _java_cmd(jars: Path, home: Path, main: str, *args: str) -> list[str]:
    java = tools.require("java")
    return [
        java, "-Xms256m", "-Xmx1g", "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
        "-cp", f"{jars}/*", main, *args,
    ]


def _format_storage(p: KafkaPaths) -> None:
    if (p.data / "meta.properties").exists():
        return
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    result = subprocess.run(  # noqa: S603
        _java_cmd(p.jars, p.home, "kafka.tools.StorageTool", "format", "-t", cluster_id,
                  "-c", str(p.properties)),
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise StackError(f"formatting the KRaft storage failed: {(result.stdout + result.stderr)[-1500:]}")


def start(settings: Settings, say: Callable[[str], None] = print) -> None:
    p = paths(settings)
    if process.read_pid(p.pid_file) is not None:
        return
    jars = ensure_jars(settings, say)
    tools.require_free_port(HOST, settings.kafka_port, "the Kafka broker")
    tools.require_free_port(HOST, settings.kafka_controller_port, "the KRaft controller")
    p.home.mkdir(parents=True, exist_ok=True)
    (p.home / "log4j2.properties").write_text(_LOG4J2)
    p.properties.write_text(_server_properties(settings, p.data))
    _format_storage(p)
    process.start_daemon(_java_cmd(jars, p.home, "kafka.Kafka", str(p.properties)),
                         p.pid_file, p.log_file, env=dict(os.environ))


def stop(settings: Settings) -> bool:
    return process.stop_daemon(paths(settings).pid_file)


def version(settings: Settings) -> str | None:
    jars = paths(settings).jars
    for jar in jars.glob("kafka_2.13-*.jar"):
        return jar.stem.removeprefix("kafka_2.13-")
    return None


def is_healthy(settings: Settings, timeout_s: float = 3.0) -> tuple[bool, str]:
    """Healthy means the broker answers a metadata request, not only that the port is open."""
    if not tools.port_is_open(HOST, settings.kafka_port):
        return False, "not listening"
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": f"{HOST}:{settings.kafka_port}", "log_level": 0})
    try:
        meta = admin.list_topics(timeout=timeout_s)
    except Exception as exc:  # the client raises KafkaException with the broker's reason
        return False, f"metadata request failed: {exc}"
    return bool(meta.brokers), f"{len(meta.brokers)} broker(s), controller {meta.controller_id}"


def wait_healthy(settings: Settings) -> None:
    p = paths(settings)
    deadline = time.monotonic() + settings.startup_timeout_s
    detail = ""
    while time.monotonic() < deadline:
        if process.read_pid(p.pid_file) is None:
            raise StackError(f"the Kafka broker exited during start-up; last log lines:\n{process.tail(p.log_file)}")
        ok, detail = is_healthy(settings)
        if ok:
            return
        time.sleep(0.5)
    raise StackError(
        f"the Kafka broker did not become healthy within {settings.startup_timeout_s:.0f}s ({detail}); "
        f"last log lines:\n{process.tail(p.log_file)}"
    )
