"""The OpenTelemetry Collector the end-to-end tests run against the normalize worker: an OTLP receiver, the batch
processor and the Kafka exporter, built like the other real components. `go install` fetches the collector
builder (ocb) at the pinned version, and ocb builds a distribution of exactly those components from their Go
modules; both are cached under <cache_dir>/bin, so a second run builds nothing. A test tool, not a stack
component (`aiops stack which otelcol`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from aiops.core.errors import StackError
from aiops.core.settings import Settings
from aiops.stack import tools
from aiops.stack.opa import go_install

NAME = "otelcol-aiops"
CONTRIB = "github.com/open-telemetry/opentelemetry-collector-contrib"


def home(settings: Settings) -> Path:
    return settings.cache_dir / "bin" / f"otelcol-{settings.otelcol_version}"


def manifest(settings: Settings, output: Path) -> str:
    """ocb's build manifest: the components, each at the version released together with the builder."""
    v, confmap = settings.otelcol_version, settings.otelcol_confmap_version
    return f"""dist:
  name: {NAME}
  description: OpenTelemetry Collector for the aiops tests (OTLP receiver, batch processor, Kafka exporter)
  output_path: {output}
  version: {v}
receivers:
  - gomod: go.opentelemetry.io/collector/receiver/otlpreceiver v{v}
processors:
  - gomod: go.opentelemetry.io/collector/processor/batchprocessor v{v}
exporters:
  - gomod: {CONTRIB}/exporter/kafkaexporter v{v}
  - gomod: go.opentelemetry.io/collector/exporter/debugexporter v{v}
providers:
  - gomod: go.opentelemetry.io/collector/confmap/provider/fileprovider v{confmap}
  - gomod: go.opentelemetry.io/collector/confmap/provider/envprovider v{confmap}
"""


def ensure_collector(settings: Settings, say: Callable[[str], None] = print) -> Path:
    """The collector binary, built on first use (a few minutes on two cores), cached afterwards."""
    target = home(settings)
    binary = target / NAME
    if binary.exists():
        return binary
    builder = target / "ocb" / "builder"
    if not builder.exists():
        go_install(f"go.opentelemetry.io/collector/cmd/builder@v{settings.otelcol_version}", builder.parent, say)
    build_dir = target / "build"
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir(parents=True)
    (build_dir / "builder.yaml").write_text(manifest(settings, build_dir / "dist"))
    say(f"building the OpenTelemetry Collector {settings.otelcol_version} with ocb into {target}")
    env = dict(os.environ, CGO_ENABLED=os.environ.get("CGO_ENABLED", "0"))
    go = tools.require("go")
    result = subprocess.run([str(builder), "--config", str(build_dir / "builder.yaml")], capture_output=True,  # noqa: S603
                            text=True, env={**env, "PATH": f"{Path(go).parent}{os.pathsep}{env.get('PATH', '')}"},
                            check=False, cwd=build_dir)
    built = build_dir / "dist" / NAME
    if result.returncode != 0 or not built.exists():
        raise StackError(f"ocb could not build the collector: {(result.stdout + result.stderr).strip()[-1500:]}")
    shutil.move(str(built), binary)
    shutil.rmtree(build_dir, ignore_errors=True)
    return binary
