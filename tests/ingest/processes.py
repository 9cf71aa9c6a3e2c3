"""Real processes for the ingestion tests: the bridges (`aiops connect ...`) and Prometheus Alertmanager,
each on a free port, waited for with a deadline and stopped by their own process group."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from aiops.stack.process import stop_group

AIOPS = str(Path(sys.executable).parent / "aiops")




def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def log_tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


@contextmanager
def running(command: Sequence[str], log_path: Path, ready_url: str, env: dict[str, str] | None = None,
            timeout_s: float = 30.0) -> Iterator[subprocess.Popen]:
    """Start a process, wait until ready_url answers 200, and stop it (SIGTERM, then SIGKILL) afterwards."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + timeout_s
            while not answers(ready_url):
                if process.poll() is not None:
                    raise AssertionError(f"{command[0]} exited with {process.returncode}:\n{log_tail(log_path)}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{ready_url} did not answer within {timeout_s:.0f} s:\n"
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
