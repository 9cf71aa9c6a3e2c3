"""A real `aiops worker` subprocess with its own topic prefix (so its own topics, group and changelogs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from aiops.core.settings import Settings
from aiops.core.topics import create_topics

AIOPS = str(Path(sys.executable).parent / "aiops")


class WorkerProcess:
    def __init__(self, bootstrap: str, groups: list[str], log_dir: Path, env: dict[str, str] | None = None,
                 prefix: str | None = None, partitions: int = 1, name: str = "worker"):
        self.prefix = prefix or f"t-{uuid.uuid4().hex[:8]}."
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
        self.proc: subprocess.Popen | None = None
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
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:]
                         for p in sorted(self.log_dir.glob(f"{self.name}-*.log")))
