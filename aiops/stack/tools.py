"""Checks for the toolchains the stack builds with and for free ports, with messages that name the cause."""

from __future__ import annotations

import shutil
import socket

from aiops.core.errors import StackError

_INSTALL_HINTS = {
    "java": "Java 17+ is needed to run the Kafka broker (Debian: apt-get install openjdk-17-jre-headless)",
    "mvn": "Maven is needed to fetch the Kafka jars from Maven Central (Debian: apt-get install maven)",
    "go": "Go is needed to build OPA and Alertmanager with `go install` (https://go.dev/doc/install)",
}


def require(tool: str) -> str:
    """The path of a required executable, or a StackError saying how to get it."""
    path = shutil.which(tool)
    if path is None:
        raise StackError(f"`{tool}` not found on PATH. {_INSTALL_HINTS.get(tool, '')}".strip())
    return path


def port_is_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def require_free_port(host: str, port: int, what: str) -> None:
    """Fail clearly when another process already listens where a component should."""
    if port_is_open(host, port):
        raise StackError(
            f"port {host}:{port} for {what} is already in use by another process; "
            f"stop it or choose another port (see `aiops config show`)"
        )
