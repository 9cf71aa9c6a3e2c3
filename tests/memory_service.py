"""A real `aiops memory serve` process on a free port with its own state directory, for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aiops.demo.local_services import free_port
from aiops.memory.client import MemoryClient

AIOPS = str(Path(sys.executable).with_name("aiops"))




@dataclass
class ServiceProcess:
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
    port = free_port()
    env = {**os.environ, "AIOPS_STATE_DIR": str(state), "AIOPS_MEMORY_PORT": str(port), "COLUMNS": "200"}
    for name in ("AIOPS_MEMORY_URI", "AIOPS_MEMORY_SERVICE_URL", "AIOPS_EMBEDDING_MODEL"):
        env.pop(name, None)
    log = (state / "serve.log").open("w")
    process = subprocess.Popen([AIOPS, "memory", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    log.close()
    running = ServiceProcess(process, f"http://127.0.0.1:{port}", env, state / "memory" / "milvus.db")
    deadline = time.monotonic() + timeout_s
    with MemoryClient(running.url) as client:
        while not client.is_up():
            if process.poll() is not None or time.monotonic() > deadline:
                running.stop()
                raise AssertionError(f"the memory service did not come up:\n{(state / 'serve.log').read_text()}")
            time.sleep(0.2)
    return running
