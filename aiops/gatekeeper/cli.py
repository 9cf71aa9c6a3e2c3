"""Commands: `aiops keys`, `aiops approve`, `aiops reject`, `aiops gatekeeper`, `aiops approvals serve`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from aiops.core.catalog import ActionCatalog
from aiops.core.errors import CatalogError, InvalidAction
from aiops.core.settings import Settings
from aiops.core.topics import APPROVALS
from streams.output_records import Proposal

console = Console()
keys_app = typer.Typer(help="Approvers' signing keys (ES256).", no_args_is_help=True)
approvals_app = typer.Typer(help="Approval ingress for other tools.", no_args_is_help=True)
# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.add_typer(keys_app, name="keys")
app.add_typer(approvals_app, name="approvals")


@keys_app.command("create")
def keys_create(
    name: str = typer.Argument(..., help="the approver's name, as the policy will know them"),
    groups: str = typer.Option(..., "--groups", "-g", help="comma-separated groups, e.g. sre,platform"),
    policy_dir: Path | None = typer.Option(None, "--policy-dir", help="also add the key to DIR/data.json"),
    force: bool = typer.Option(False, "--force", help="replace an existing key of that name"),
) -> None:
    """Create an ES256 key pair in the key directory; print the public part and its policy-data snippet."""
    from aiops.gatekeeper.keys import KeyStore, add_to_policy_data

    settings = Settings()
    key = KeyStore(settings.key_dir).create(name, groups.split(","), force=force)
    console.print(f"created key [bold]{key.kid}[/] for {key.name} (groups: {', '.join(key.groups)})")
    console.print(f"private key: {key.private_path} (mode 0600, never share it)")
    console.print("public key:")
    typer.echo(key.public_key.rstrip())
    console.print("policy data snippet for data.aiops.approvers:")
    typer.echo(json.dumps(key.policy_entry(), indent=2))
    if policy_dir is not None:
        path = add_to_policy_data(key, policy_dir)
        console.print(f"added {key.kid} to {path} (aiops.approvers)")


@keys_app.command("enroll")
def keys_enroll(
    name: str = typer.Argument(..., help="the approver's name, as the policy will know them"),
    groups: str = typer.Option(..., "--groups", "-g", help="comma-separated groups, e.g. sre,platform"),
    public_key: Path = typer.Option(..., "--public-key", help="a file with the public key as JWK or PEM ('-' reads "
                                    "standard input), e.g. what `aiops console` shows on its Keys page"),
    policy_dir: Path | None = typer.Option(None, "--policy-dir", help="add the key to DIR/data.json"),
) -> None:
    """Enrol an approver whose private key stays elsewhere (a browser): print, or add, its policy-data entry."""
    import sys

    from aiops.gatekeeper.enrolment import enrolled_approver
    from aiops.gatekeeper.errors import KeyStoreError
    from aiops.gatekeeper.keys import add_to_policy_data

    try:
        text = sys.stdin.read() if str(public_key) == "-" else public_key.read_text()
    except OSError as exc:
        raise KeyStoreError(f"cannot read the public key {public_key}: {exc}") from None
    approver = enrolled_approver(name, groups.split(","), text)
    console.print(f"enrolled key [bold]{approver.kid}[/] for {approver.name} (groups: {', '.join(approver.groups)})")
    console.print("policy data snippet for data.aiops.approvers:")
    typer.echo(json.dumps(approver.policy_entry(), indent=2))
    if policy_dir is not None:
        path = add_to_policy_data(approver, policy_dir)
        console.print(f"added {approver.kid} to {path} (aiops.approvers)")
    else:
        console.print("[yellow]not added anywhere[/]: give --policy-dir DIR to add it to DIR/data.json")


@keys_app.command("list")
def keys_list() -> None:
    """The keys in the key directory."""
    from aiops.gatekeeper.keys import KeyStore

    settings = Settings()
    table = Table("name", "kid", "groups", "created", "private key")
    for key in KeyStore(settings.key_dir).list():
        table.add_row(key.name, key.kid, ", ".join(key.groups), key.created_at, str(key.private_path))
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    name: str = typer.Argument(..., help="the approver whose keys to revoke (or one key id)"),
    policy_dir: Path = typer.Option(..., "--policy-dir", help="the bundle whose DIR/data.json to change"),
    reason: str = typer.Option(..., "--reason", "-r", help="why (recorded in the bundle data)"),
    by: str | None = typer.Option(None, "--by", help="your key, which signs the revocation (default: the only key)"),
) -> None:
    """Remove an approver's keys from the bundle data, with a revocation record signed by your key."""
    from aiops.gatekeeper.keys import KeyStore
    from aiops.gatekeeper.revocation import revoke

    settings = Settings()
    revoker = KeyStore(settings.key_dir).default(by)
    for record in revoke(policy_dir, name, revoker, reason):
        console.print(f"revoked {record['kid']} ({record['name']}) at {record['revoked_at']}, signed by "
                      f"{revoker.name} ({revoker.kid}): {record['reason']}")
    console.print(f"{Path(policy_dir) / 'data.json'}: removed from aiops.approvers, recorded in "
                  "aiops.key_revocations; ship the bundle (OPA with --watch reloads it)")


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def show_proposal(proposal: Proposal) -> None:
    """The proposal as an approver needs to see it before signing."""
    from aiops.gatekeeper.binding import action_hash

    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    target = proposal.target
    proposer = proposal.proposer
    parameters = dict(proposal.parameters)
    expired = proposal.expires_at <= datetime.now(UTC)
    table.add_row("proposal", proposal.id)
    table.add_row("incident", proposal.incident_id)
    table.add_row("action", f"[bold]{proposal.action}[/]")
    table.add_row("parameters", json.dumps(parameters, sort_keys=True))
    table.add_row("target", f"{target.environment} / {target.namespace} / {target.service}")
    try:
        validated = ActionCatalog.for_settings(Settings()).validate(proposal.action, parameters)
        risk = validated.risk_class.value
        if risk != proposal.risk_class:
            risk += f" [yellow](the proposal claims {proposal.risk_class.value}; the catalog's class applies)[/]"
        table.add_row("risk class", risk)
    except (InvalidAction, CatalogError) as exc:
        table.add_row("risk class", f"{proposal.risk_class.value} (claimed)")
        table.add_row("catalog", f"[red]{exc}[/] - the gatekeeper will refuse this action")
    table.add_row("blast radius", str(proposal.blast_radius))
    table.add_row("rationale", proposal.rationale)
    for ref in proposal.evidence:
        summary = f" - {ref.summary}" if ref.summary else ""
        table.add_row("evidence", f"{ref.kind}: {ref.ref}{summary}")
    table.add_row("confidence", f"{proposal.confidence:.2f}")
    note = f" ({proposer.note})" if proposer.note else ""
    table.add_row("proposer", f"{proposer.kind} {proposer.name} v{proposer.version}{note}")
    if proposal.requested_by:
        table.add_row("requested by", proposal.requested_by)
    table.add_row("created", _when(proposal.created_at))
    table.add_row("expires", _when(proposal.expires_at) + (" [red](expired)[/]" if expired else ""))
    table.add_row("action hash", action_hash(proposal.action, parameters))
    console.print(Panel(table, title="proposal"))


_LEDGER_NOTES = {
    "executing": "[yellow]the gatekeeper is executing this proposal: an approval changes nothing, a rejection is "
                 "recorded as a veto after execution[/]",
    "done": "[yellow]the gatekeeper already executed this proposal: an approval changes nothing, a rejection is "
            "recorded as a veto after execution[/]",
    "expired": "[yellow]this proposal expired: the gatekeeper will not execute it[/]",
}


def _decide(proposal_id: str, decision: str, key_name: str | None, comment: str | None, yes: bool,
            timeout: float) -> None:
    from aiops.gatekeeper.approvals import approval_record, produce_approval
    from aiops.gatekeeper.keys import KeyStore
    from aiops.gatekeeper.lookup import considered_proposal

    settings = Settings()
    key = KeyStore(settings.key_dir).default(key_name)
    # The proposal the gatekeeper considers for this id (refused when the id is ambiguous), not merely the
    # newest record carrying it.
    considered = considered_proposal(settings, proposal_id, timeout_s=timeout)
    proposal = considered.proposal
    show_proposal(proposal)
    console.print(f"as the gatekeeper sees it: {settings.topic('aiops.proposals')}[{considered.partition}]"
                  f"@{considered.offset}" + (f", repeated {considered.replays} time(s) unchanged"
                                             if considered.replays else ""))
    if considered.ledger_status in _LEDGER_NOTES:
        console.print(_LEDGER_NOTES[considered.ledger_status])
    verb = "approve" if decision == "approve" else "reject"
    if not yes and not typer.confirm(f"{verb} {proposal_id} as {key.name} (key {key.kid})?"):
        console.print("nothing sent")
        raise typer.Exit(1)
    approval = approval_record(proposal, key, decision, source="cli", comment=comment,
                               ttl_s=settings.approval_token_ttl_s)
    partition, offset = produce_approval(settings, approval, timeout_s=timeout)
    console.print(f"{verb}d {proposal_id} as {key.name}: {settings.topic(APPROVALS)}"
                  f"[{partition}]@{offset}")


# The options `approve` and `reject` share.
KeyName = Annotated[str | None, typer.Option("--key", "-k", help="key name (default: the only key)")]
Comment = Annotated[str | None, typer.Option("--comment", "-m", help="why")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")]
Timeout = Annotated[float, typer.Option(help="seconds to look for the proposal and wait for Kafka")]


@app.command("approve")
def approve(proposal_id: Annotated[str, typer.Argument(help="the proposal to approve")], key: KeyName = None,
            comment: Comment = None, yes: Yes = False, timeout: Timeout = 15.0) -> None:
    """Show a proposal and its evidence, sign an approval with your key, and produce it to aiops.approvals."""
    _decide(proposal_id, "approve", key, comment, yes, timeout)


@app.command("reject")
def reject(proposal_id: Annotated[str, typer.Argument(help="the proposal to reject")], key: KeyName = None,
           comment: Comment = None, yes: Yes = False, timeout: Timeout = 15.0) -> None:
    """Show a proposal, sign a rejection (a veto) with your key, and produce it to aiops.approvals."""
    _decide(proposal_id, "reject", key, comment, yes, timeout)


@app.command("gatekeeper")
def gatekeeper(
    instance_id: str | None = typer.Option(None, help="static group member id (default: AIOPS_GATEKEEPER_INSTANCE_ID)"),
    loglevel: str = typer.Option("info", help="debug, info, warning or error"),
) -> None:
    """Run the gatekeeper: OPA-decided, approval-gated, exactly-once execution of proposals."""
    import asyncio
    import logging
    import signal

    from aiops.gatekeeper.service import Gatekeeper

    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    if settings.gatekeeper_metrics_port:
        from aiops.core import metrics

        metrics.serve(settings.gatekeeper_metrics_port, settings.metrics_host)

    async def main() -> None:
        keeper = Gatekeeper(settings, instance_id=instance_id or settings.gatekeeper_instance_id)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, keeper.stop)
        await keeper.run()

    asyncio.run(main())


@approvals_app.command("serve")
def approvals_serve(
    host: str | None = typer.Option(None, help="default: AIOPS_APPROVALS_HTTP_HOST"),
    port: int | None = typer.Option(None, help="default: AIOPS_APPROVALS_HTTP_PORT"),
) -> None:
    """Serve POST /v1/approvals: signed approvals from other tools, validated and produced to Kafka."""
    from connectors.approvals_http import serve

    settings = Settings()
    if settings.approvals_metrics_port:
        from aiops.core import metrics

        metrics.serve(settings.approvals_metrics_port, settings.metrics_host)
    console.print(f"approvals endpoint on http://{host or settings.approvals_http_host}:"
                  f"{port or settings.approvals_http_port}/v1/approvals")
    serve(settings, host, port)
