"""The processes `aiops demo` starts (its own `aiops` children, the console among them), watched and stopped."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from aiops.core.settings import Settings
from aiops.demo.errors import DemoError

AIOPS = str(Path(sys.executable).with_name("aiops"))


class Processes:
    """Child processes the demo started, stopped in reverse order."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen([AIOPS, *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.children.append((name, process))
        return process

    def check(self) -> None:
        for name, process in self.children:
            if process.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-2000:]
                raise DemoError(f"{name} exited with {process.returncode}:\n{tail}")

    def stop(self) -> None:
        for _, process in reversed(self.children):
            if process.poll() is None:
                process.terminate()
        for _, process in reversed(self.children):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for_health(processes: Processes, urls: list[str], timeout_s: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    for url in urls:
        while True:
            processes.check()
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise DemoError(f"{url} did not answer within {timeout_s:.0f}s")
            time.sleep(0.2)


def free_port() -> int:
    from aiops.demo.local_services import free_port

    return free_port()


def start_console(processes: Processes, env: dict[str, str], settings: Settings, bundle: Path) -> str:
    """`aiops console` next to the demo, on the demo's topics and OPA; returns the address to open (with the
    read token). It shows the enrolment command naming the demo's bundle, which OPA watches."""
    import secrets

    token = (settings.console_read_token.get_secret_value() if settings.console_read_token else None) \
        or secrets.token_urlsafe(24)
    port = settings.console_port
    processes.start("console", ["console", "--port", str(port), "--policy-dir", str(bundle)],
                    {**env, "AIOPS_CONSOLE_READ_TOKEN": token, "AIOPS_CONSOLE_READ_AUTH": "token",
                     "AIOPS_CONSOLE_HOST": settings.console_host})
    url = f"http://{settings.console_host}:{port}"
    wait_for_health(processes, [f"{url}/healthz"])
    return f"{url}/?token={token}"


def keep_console_up(processes: Processes, console: Console, url: str) -> None:
    """After the demo: the console stays up (and so does everything it shows) until Ctrl-C."""
    console.print(f"the console stays up at {url} ; press Ctrl-C to stop the demo", soft_wrap=True)
    try:
        while True:
            processes.check()
            time.sleep(1.0)
    except KeyboardInterrupt:
        console.print("stopping")
