"""Real processes for the tests, each stopped by its own process group: `aiops worker` with its own topic prefix
(and the shared normalize worker fixture), the bridges and Alertmanager on free ports, and `aiops memory serve`.

`AIOPS` is the one path of the `aiops` console script the tests run. Registered as a plugin by tests/conftest.py
for the `normalize_worker` fixture.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiops.core.settings import Settings
from aiops.core.topics import LOGS, RAW_LOGS, create_topics, delete_prefixed_topics
from aiops.demo.local_services import free_port
from aiops.memory.client import MemoryClient
from aiops.stack.process import stop_group
from tests.kafka_io import TopicReader, produce

AIOPS = str(Path(sys.executable).with_name("aiops"))


# --- the stream worker -----------------------------------------------------------------------------

class WorkerProcess:
    """A real `aiops worker` subprocess with its own topic prefix (so its own topics, group and changelogs)."""

    def __init__(self, bootstrap: str, groups: list[str], log_dir: Path, env: dict[str, str] | None = None,
                 prefix: str | None = None, partitions: int = 1, name: str = "worker"):
        self.prefix = prefix or f"t-{uuid.uuid4().hex[:8]}."  # a second worker of the same group passes the first's
        self.name = name
        self.env = {
            **os.environ,
            "AIOPS_KAFKA_BOOTSTRAP": bootstrap,
            "AIOPS_TOPIC_PREFIX": self.prefix,
            "AIOPS_DEFAULT_PARTITIONS": str(partitions),
            "AIOPS_WORKER_METRICS_PORT": "0",  # several workers may run at once; a test that wants metrics sets one
            **(env or {}),
        }
        self.settings = Settings(kafka_bootstrap=bootstrap, topic_prefix=self.prefix, default_partitions=partitions)
        self.groups = groups
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        create_topics(self.settings)

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    def start(self) -> WorkerProcess:
        self.starts += 1
        log = open(self.log_dir / f"{self.name}-{self.starts}.log", "wb")  # noqa: SIM115 - closed with the process
        args = [AIOPS, "worker", "--loglevel", "warn"]
        for group in self.groups:
            args += ["--agent", group]
        self.proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown hooks, no final commit."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.alive:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:]
                         for p in sorted(self.log_dir.glob(f"{self.name}-*.log")))


# Low limits, so that "too large" inputs stay well below the broker's own message size limit. The normalize
# agents write every line and span to the canonical topics only with AIOPS_CANONICAL_LINES=all.
NORMALIZE_LIMITS = {"AIOPS_INGEST_MAX_MESSAGE_BYTES": "131072", "AIOPS_INGEST_MAX_FIELD_BYTES": "16384",
                    "AIOPS_CANONICAL_LINES": "all"}


@pytest.fixture(scope="session")
def normalize_worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """One `aiops worker --agent normalize` for the session; each test tells its records apart by unique markers."""
    worker = WorkerProcess(settings.kafka_bootstrap, ["normalize"], tmp_path_factory.mktemp("normalize-worker"),
                           env=NORMALIZE_LIMITS).start()
    try:
        # Ready means: a log line produced now comes out normalised.
        probe = f"probe-{uuid.uuid4().hex[:8]}"
        produce(settings.kafka_bootstrap, worker.topic(RAW_LOGS),
                [(None, f'{{"message": "ready?", "service": "{probe}"}}'.encode())])
        with TopicReader(settings.kafka_bootstrap, worker.topic(LOGS)) as reader:
            reader.wait_until(lambda got: any(r.key == probe.encode() for r in got), 90, "the worker to start",
                              diagnostics=worker.logs)
        yield worker
    finally:
        worker.stop()
        delete_prefixed_topics(settings.kafka_bootstrap, worker.prefix)


# --- HTTP processes: the bridges, Alertmanager, the memory service -----------------------------------

def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - a local test URL
            return bool(response.status == 200)
    except OSError:
        return False


def log_tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


@contextmanager
def running(command: Sequence[str], log_path: Path, ready_url: str | Callable[[], bool],
            env: dict[str, str] | None = None, timeout_s: float = 30.0) -> Iterator[subprocess.Popen[bytes]]:
    """Start a process, wait until ready_url answers 200 (or the `ready_url` check holds), and stop it (SIGTERM,
    then SIGKILL) afterwards."""
    ready = ready_url if callable(ready_url) else lambda: answers(ready_url)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + timeout_s
            while not ready():
                if process.poll() is not None:
                    raise AssertionError(f"{command[0]} exited with {process.returncode}:\n{log_tail(log_path)}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{command[0]} was not ready within {timeout_s:.0f} s:\n"
                                         f"{log_tail(log_path)}")
                time.sleep(0.1)
            yield process
        finally:
            stop_group(process, timeout_s=15)


def bridge_env(bootstrap: str, prefix: str, **settings: str) -> dict[str, str]:
    """The environment of a bridge subprocess: the test broker, the test prefix, and AIOPS_* overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    env.update({"AIOPS_KAFKA_BOOTSTRAP": bootstrap, "AIOPS_TOPIC_PREFIX": prefix,
                # bridges may run side by side in tests: no fixed metrics ports
                "AIOPS_ALERTMANAGER_BRIDGE_METRICS_PORT": "0", "AIOPS_OTLP_RECEIVER_METRICS_PORT": "0"})
    env.update({f"AIOPS_{name.upper()}": value for name, value in settings.items()})
    return env


@dataclass
class ServiceProcess:
    """A running `aiops memory serve`."""

    process: subprocess.Popen[str]
    url: str
    env: dict[str, str]
    db: Path

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_memory_service(state: Path, timeout_s: float = 60.0) -> ServiceProcess:
    """`aiops memory serve` on a free port with its own state directory, once it answers."""
    port = free_port()
    env = {**os.environ, "AIOPS_STATE_DIR": str(state), "AIOPS_MEMORY_PORT": str(port), "COLUMNS": "200"}
    for name in ("AIOPS_MEMORY_URI", "AIOPS_MEMORY_SERVICE_URL", "AIOPS_EMBEDDING_MODEL"):
        env.pop(name, None)
    log = (state / "serve.log").open("w")
    process = subprocess.Popen([AIOPS, "memory", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    log.close()
    service = ServiceProcess(process, f"http://127.0.0.1:{port}", env, state / "memory" / "milvus.db")
    deadline = time.monotonic() + timeout_s
    with MemoryClient(service.url) as client:
        while not client.is_up():
            if process.poll() is not None or time.monotonic() > deadline:
                service.stop()
                raise AssertionError(f"the memory service did not come up:\n{(state / 'serve.log').read_text()}")
            time.sleep(0.2)
    return service


__all__ = ["AIOPS", "ServiceProcess", "WorkerProcess", "answers", "bridge_env", "free_port", "log_tail", "running",
           "start_memory_service"]
