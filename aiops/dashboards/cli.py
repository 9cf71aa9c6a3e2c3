"""`aiops dashboards`: build the Grafana dashboards from code (imports typer only; the SDK loads when run)."""

from __future__ import annotations

from pathlib import Path

import typer

dashboards_app = typer.Typer(help="Grafana dashboards as code (deploy/grafana/dashboards).", no_args_is_help=True)
# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("build")
def dashboards_build(
    out: Path | None = typer.Option(None, "--out", help="directory to write to (default: deploy/grafana/dashboards)"),
    check: bool = typer.Option(False, "--check", help="write nothing; exit 1 if a checked-in file differs"),
) -> None:
    """Write the dashboards' JSON (what Grafana provisions) from the code in dashboards/."""
    from aiops.dashboards.build import DEFAULT_OUT, stale, write_all

    target = out or DEFAULT_OUT
    if check:
        differing = stale(target)
        for name in differing:
            typer.echo(f"stale: {target / name}", err=True)
        raise typer.Exit(1 if differing else 0)
    for path in write_all(target):
        typer.echo(str(path))
