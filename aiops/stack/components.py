"""`aiops stack up | down | status`: the components of the local stack, started and checked in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiops.core.errors import StackError
from aiops.core.settings import Settings
from aiops.stack import collector, kafka, opa, process


@dataclass(frozen=True)
class Component:
    name: str
    address: Callable[[Settings], str]
    start: Callable[..., None]
    wait_healthy: Callable[[Settings], None]
    stop: Callable[[Settings], bool]
    version: Callable[[Settings], str | None]
    is_healthy: Callable[[Settings], tuple[bool, str]]
    pid_file: Callable[[Settings], Path]


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    version: str | None
    address: str
    healthy: bool
    detail: str
    pid: int | None


COMPONENTS = (
    Component(
        "kafka", lambda s: f"{kafka.HOST}:{s.kafka_port}", kafka.start, kafka.wait_healthy, kafka.stop,
        kafka.version, kafka.is_healthy, lambda s: kafka.paths(s).pid_file,
    ),
    Component(
        "opa", lambda s: f"http://{opa.HOST}:{s.opa_port}", opa.start, opa.wait_healthy, opa.stop,
        opa.version, opa.is_healthy, lambda s: opa.home(s) / "opa.pid",
    ),
)


def up(settings: Settings, say: Callable[[str], None] = print) -> list[ComponentStatus]:
    """Provision (first time only) and start every component, then wait until each is healthy."""
    try:
        for component in COMPONENTS:
            component.start(settings, say)
        for component in COMPONENTS:
            component.wait_healthy(settings)
    except Exception:
        # Leave nothing half-started behind a failed `up`.
        down(settings)
        raise
    return status(settings)


def provision(settings: Settings, say: Callable[[str], None] = print) -> None:
    """Download and build what the components run; a second call does nothing."""
    kafka.ensure_jars(settings, say)
    opa.ensure_binary(settings, say)
    ensure_alertmanager(settings, say)
    collector.ensure_collector(settings, say)


ALERTMANAGER_TOOLS = ("alertmanager", "amtool")


def ensure_alertmanager(settings: Settings, say: Callable[[str], None] = print) -> dict[str, Path]:
    """Prometheus Alertmanager and amtool, built with `go install` at the pinned version (a test tool,
    not a stack component). v0.32+ cannot be `go install`ed: its module lacks the embedded UI assets."""
    home = settings.cache_dir / "bin" / f"alertmanager-{settings.alertmanager_version}"
    for tool in ALERTMANAGER_TOOLS:
        if not (home / tool).exists():
            opa.go_install(f"github.com/prometheus/alertmanager/cmd/{tool}@{settings.alertmanager_version}",
                           home, say)
    return {tool: home / tool for tool in ALERTMANAGER_TOOLS}


def binary(settings: Settings, tool: str) -> Path:
    """The path of a provisioned tool binary by name."""
    binaries = {"opa": opa.ensure_binary,
                "alertmanager": lambda s, say: ensure_alertmanager(s, say)["alertmanager"],
                "amtool": lambda s, say: ensure_alertmanager(s, say)["amtool"],
                "otelcol": collector.ensure_collector}
    if tool not in binaries:
        raise StackError(f"unknown tool {tool!r}; known: {', '.join(binaries)}")
    return binaries[tool](settings, print)


def down(settings: Settings) -> list[str]:
    """Stop every component in reverse order; returns the names of those that were running."""
    return [c.name for c in reversed(COMPONENTS) if c.stop(settings)]


def status(settings: Settings) -> list[ComponentStatus]:
    rows = []
    for component in COMPONENTS:
        healthy, detail = component.is_healthy(settings)
        rows.append(ComponentStatus(
            name=component.name, version=component.version(settings), address=component.address(settings),
            healthy=healthy, detail=detail, pid=process.read_pid(component.pid_file(settings)),
        ))
    return rows
