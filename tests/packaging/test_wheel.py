"""The built wheel works without a checkout: it installs exactly the three import roots, finds its schemas,
policy, action catalog and handbook, and runs the demo from a fresh venv in a folder far from the source."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from aiops.core.paths import PROJECT_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    """A new venv holding only the built wheel. Its dependencies are read from the test environment's
    site-packages through a path entry, which adds them to sys.path without running that directory's .pth
    files, so the editable install of the checkout stays invisible."""
    work = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(work / "dist"), str(PROJECT_ROOT)],
                           capture_output=True, text=True, check=False, cwd=work)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (work / "dist").glob("aiops_kafka-*.whl")
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                                "-q", str(wheel)], capture_output=True, text=True, check=False, cwd=work)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return env_dir


def _run(env_dir: Path, *args: str, cwd: Path, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_") and k != "PYTHONPATH"}
    env.update(extra, COLUMNS="200")
    return subprocess.run([str(env_dir / "bin" / "aiops"), *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout, check=False)


def test_the_wheel_installs_exactly_three_import_roots(wheel_venv):
    python = wheel_venv / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    roots = {p.name for p in purelib.iterdir()
             if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py")}
    assert roots == {"aiops", "streams", "connectors"}


def test_the_installed_cli_finds_its_data_outside_the_checkout(wheel_venv, tmp_path):
    shown = _run(wheel_venv, "config", "show", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    share = str(wheel_venv / "share" / "aiops")
    for name in ("policy_dir", "schemas_dir", "handbook_dir", "action_catalog"):
        line = next(line for line in shown.stdout.splitlines() if f" {name} " in line)
        assert share in line.replace("│", " ").replace(" ", "") or share in line, line
        assert str(PROJECT_ROOT) not in line, line
    listed = _run(wheel_venv, "topics", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "aiops.incidents" in listed.stdout and "aiops.alerts.raw" in listed.stdout
    assert (wheel_venv / "share" / "aiops" / "policy" / "data.json").is_file()
    # The console's pages and scripts ship inside the package.
    console_dir = next((wheel_venv / "lib").glob("python3*/site-packages/aiops/console"))
    for page in ("templates/incident.html", "templates/fragments/gate.html", "static/signer.js", "static/console.css"):
        assert (console_dir / page).is_file(), page
    assert sorted(p.name for p in (wheel_venv / "share" / "aiops" / "schemas").glob("*.avsc")) == \
        sorted(p.name for p in (PROJECT_ROOT / "schemas").glob("*.avsc"))


def test_the_demo_runs_from_the_wheel(wheel_venv, services, tmp_path):
    result = _run(wheel_venv, "demo", "--approve-as", "alice", "--speed", "20", "--timeout", "240", cwd=tmp_path,
                  timeout=300, AIOPS_STATE_DIR=str(tmp_path / "state"), AIOPS_KAFKA_BOOTSTRAP=services.kafka_bootstrap,
                  AIOPS_WORKER_METRICS_PORT="0", AIOPS_GATEKEEPER_METRICS_PORT="0",
                  AIOPS_ALERTMANAGER_BRIDGE_METRICS_PORT="0", AIOPS_OTLP_RECEIVER_METRICS_PORT="0")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Likely root cause: orders-db" in output
    assert "demo finished" in output
