"""OPA built from source with `go install` at a pinned version, served on 127.0.0.1 with the policy bundle."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from aiops.core.errors import StackError
from aiops.core.settings import Settings
from aiops.stack import process, tools

HOST = "127.0.0.1"


def binary(settings: Settings) -> Path:
    return settings.cache_dir / "bin" / f"opa-{settings.opa_version}" / "opa"


def home(settings: Settings) -> Path:
    return settings.state_dir / "opa"


def go_install(module: str, gobin: Path, say: Callable[[str], None] = print) -> None:
    """`go install module` into gobin, with a message that names the failure."""
    go = tools.require("go")
    say(f"building {module} with go install into {gobin}")
    gobin.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(gobin), CGO_ENABLED=os.environ.get("CGO_ENABLED", "0"))
    result = subprocess.run([go, "install", module], capture_output=True, text=True, env=env,  # noqa: S603
                            check=False)
    if result.returncode != 0:
        raise StackError(f"`go install {module}` failed: {(result.stdout + result.stderr).strip()[-1500:]}")


def ensure_binary(settings: Settings, say: Callable[[str], None] = print) -> Path:
    opa = binary(settings)
    if not opa.exists():
        go_install(f"github.com/open-policy-agent/opa@{settings.opa_version}", opa.parent, say)
    return opa


def start(settings: Settings, say: Callable[[str], None] = print) -> None:
    h = home(settings)
    pid_file = h / "opa.pid"
    if process.read_pid(pid_file) is not None:
        return
    opa = ensure_binary(settings, say)
    if not (settings.policy_dir / ".manifest").exists():
        raise StackError(f"no policy bundle at {settings.policy_dir} (expected a .manifest there)")
    tools.require_free_port(HOST, settings.opa_port, "OPA")
    h.mkdir(parents=True, exist_ok=True)
    process.start_daemon(
        # Decision logging gives every answer a decision id, which the gatekeeper records in its Decisions.
        [str(opa), "run", "--server", "--addr", f"{HOST}:{settings.opa_port}", "--log-level", "error",
         "--set", "decision_logs.console=true", "--bundle", "--watch", str(settings.policy_dir)],
        pid_file, h / "opa.log",
    )


def stop(settings: Settings) -> bool:
    return process.stop_daemon(home(settings) / "opa.pid")


def version(settings: Settings) -> str | None:
    opa = binary(settings)
    if not opa.exists():
        return None
    out = subprocess.run([str(opa), "version"], capture_output=True, text=True, check=False).stdout  # noqa: S603
    for line in out.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


def is_healthy(settings: Settings, timeout_s: float = 2.0) -> tuple[bool, str]:
    # /health?bundles answers 200 only once the bundle is activated.
    url = f"http://{HOST}:{settings.opa_port}/health?bundles"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - fixed loopback URL
            return resp.status == 200, f"HTTP {resp.status}, bundle loaded"
    except OSError as exc:
        return False, f"health check failed: {exc}"


def wait_healthy(settings: Settings) -> None:
    h = home(settings)
    deadline = time.monotonic() + settings.startup_timeout_s
    detail = ""
    while time.monotonic() < deadline:
        if process.read_pid(h / "opa.pid") is None:
            raise StackError(f"OPA exited during start-up; last log lines:\n{process.tail(h / 'opa.log')}")
        ok, detail = is_healthy(settings)
        if ok:
            return
        time.sleep(0.3)
    raise StackError(f"OPA did not become healthy within {settings.startup_timeout_s:.0f}s ({detail})")
