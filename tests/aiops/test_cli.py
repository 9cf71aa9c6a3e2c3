"""The `aiops` command is put together from every subsystem's `cli.py`, each exposing one Typer `app` the same way."""

from __future__ import annotations

import importlib

import typer
from typer.testing import CliRunner

from aiops import cli
from aiops.core.paths import PROJECT_ROOT
from tests.architecture.layers import ROOTS, module_name


def cli_modules() -> list[str]:
    return sorted(module_name(PROJECT_ROOT, path) for root in ROOTS for path in (PROJECT_ROOT / root).rglob("cli.py"))


def test_every_subsystem_cli_exposes_an_app_and_the_aiops_command_merges_them_all():
    subsystems = [m for m in cli_modules() if m != "aiops.cli"]
    for name in subsystems:
        assert isinstance(importlib.import_module(name).app, typer.Typer), f"{name} exposes no Typer `app`"
    assert sorted(m.__name__ for m in cli.SUBSYSTEMS) == subsystems


def test_the_aiops_command_only_assembles():
    assert cli.app.registered_commands == []  # every command lives with its subsystem
    assert [group.typer_instance for group in cli.app.registered_groups] == [m.app for m in cli.SUBSYSTEMS]


def test_the_commands_the_contract_names_are_there():
    result = CliRunner().invoke(cli.app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for command in ("stack", "worker", "replay", "demo", "approve", "reject", "keys", "gatekeeper", "approvals",
                    "topics", "config", "connect", "handbook", "memory", "feed", "dashboards", "bench", "logs",
                    "console"):
        assert f" {command} " in result.output, command
