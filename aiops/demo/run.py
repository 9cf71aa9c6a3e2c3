"""`aiops demo`: the whole system on the bundled scenario, shown live.

It starts what it needs (the local stack if it is not running, a private OPA with the demo approver's key in
the bundle data, a simulated platform-ctl, the memory service with the handbook indexed, the stream worker
and the gatekeeper), replays the shop's cascading failure into a fresh set of topics, shows incidents,
evidence, similar past incidents, proposals and decisions as they happen, asks for the approval the policy
wants for the state-changing proposal, waits for its execution, prints the audit trail, and stops
everything it started."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from aiops.core.avro import codec_for
from aiops.core.catalog import RiskClass
from aiops.core.deadletter import DeadLetter, RawMessage, decode_or_letter, skip_undecodable
from aiops.core.settings import Settings
from aiops.core.topics import (
    DECISIONS,
    EXECUTIONS,
    INCIDENTS,
    OTLP_SPANS,
    PROPOSALS,
    RAW_ALERTS,
    create_topics,
    delete_prefixed_topics,
)
from aiops.demo.errors import DemoError
from aiops.demo.processes import Processes, free_port, keep_console_up, start_console, wait_for_health
from streams.output_records import Decision, Execution, ExecutionStatus, Incident, Proposal

OUTPUTS = (INCIDENTS, PROPOSALS, DECISIONS, EXECUTIONS)
QUIET_S = 4.0
OutputRecord = Incident | Proposal | Decision | Execution
RECORD_OF: dict[str, type[OutputRecord]] = {INCIDENTS: Incident, PROPOSALS: Proposal, DECISIONS: Decision,
                                            EXECUTIONS: Execution}


@dataclass
class AuditTrail:
    """Everything the demo saw on the output topics, latest first where it matters."""

    incidents: dict[str, Incident] = field(default_factory=dict)
    proposals: dict[str, Proposal] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)

    def add(self, record: OutputRecord) -> None:
        if isinstance(record, Incident):
            known = self.incidents.get(record.id)
            if known is None or record.version >= known.version:
                self.incidents[record.id] = record
        elif isinstance(record, Proposal):
            self.proposals[record.id] = record
        elif isinstance(record, Decision):
            self.decisions.append(record)
        else:
            self.executions.append(record)

    def succeeded(self, proposal_id: str) -> Execution | None:
        return next((e for e in self.executions
                     if e.proposal_id == proposal_id and e.status == ExecutionStatus.succeeded), None)

    def last_decision(self, proposal_id: str) -> Decision | None:
        return next((d for d in reversed(self.decisions) if d.proposal_id == proposal_id), None)


def start_memory(processes: Processes, env: dict[str, str], settings: Settings) -> int:
    """Start the memory service and index the handbook into it; how many documents were indexed."""
    from aiops.memory.client import MemoryClient
    from aiops.memory.documents import load_handbook

    processes.start("memory", ["memory", "serve"], env)
    with MemoryClient(env["AIOPS_MEMORY_SERVICE_URL"]) as memory:
        deadline = time.monotonic() + 60
        while not memory.is_up():
            processes.check()
            if time.monotonic() > deadline:
                raise DemoError("the memory service did not come up within 60 s")
            time.sleep(0.2)
        return memory.upsert([doc.to_record() for doc in load_handbook(settings.handbook_dir)])


class OutputReader:
    """Reads the demo's output topics from the beginning into the audit trail (a background thread)."""

    def __init__(self, settings: Settings, trail: AuditTrail):
        from confluent_kafka import Consumer

        self.settings = settings
        self.trail = trail
        self.lock = threading.Lock()
        self.decoders = {settings.topic(t): self._decoder(settings, t) for t in OUTPUTS}
        self.consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                                  "group.id": f"demo-view-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest",
                                  "enable.auto.commit": False})
        self.consumer.subscribe(list(self.decoders))
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @staticmethod
    def _decoder(settings: Settings, topic: str) -> Callable[[bytes | None], OutputRecord]:
        record = RECORD_OF[topic]
        codec = codec_for(record.__name__, settings.topic(topic), settings)
        return lambda value: record.from_avro(codec.decode(value))

    def _run(self) -> None:
        while not self.stopping.is_set():
            msg = self.consumer.poll(0.2)
            if msg is None or msg.error() or msg.value() is None:
                continue
            message = RawMessage.of_confluent(msg)
            record = decode_or_letter(self.decoders[message.topic], message, self.settings.max_record_bytes)
            if isinstance(record, DeadLetter):
                skip_undecodable(record, "demo-view")
                continue
            with self.lock:
                self.trail.add(record)
        self.consumer.close()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%H:%M:%S")


def render(trail: AuditTrail, status: str) -> Group:
    incidents = Table("incident", "status", "likely root cause", "services", "alerts", "evidence", "similar (top 2)",
                      title="Incidents", expand=True)
    for incident in sorted(trail.incidents.values(), key=lambda i: i.window_start):
        similar = ", ".join(f"{s.doc_id} ({s.score:.2f})" for s in incident.similar_incidents[:2])
        incidents.add_row(incident.id[-8:], incident.status.value, incident.root_cause.service or "?",
                          ", ".join(incident.services), str(len(incident.alerts)),
                          f"{len(incident.log_evidence)} logs, {len(incident.span_evidence)} spans", similar)
    proposals = Table("proposal", "action", "target", "risk", "proposer", "decision", "execution",
                      title="Proposals and decisions", expand=True)
    for proposal in trail.proposals.values():
        decision = trail.last_decision(proposal.id)
        verdict = "-" if decision is None else ("[green]allow[/]" if decision.allow else
                                                f"[yellow]deny[/]: {'; '.join(decision.reasons)[:80]}")
        runs = [e.status.value for e in trail.executions if e.proposal_id == proposal.id]
        proposals.add_row(proposal.id[-8:], proposal.action, proposal.target.service,
                          proposal.risk_class.value, proposal.proposer.name, verdict, " → ".join(runs) or "-")
    return Group(incidents, proposals, Panel(status))


def print_audit_trail(console: Console, trail: AuditTrail, incident: Incident) -> None:
    console.rule("[bold]The incident")
    console.print(f"[bold]{incident.title}[/]")
    root = incident.root_cause
    console.print(f"Likely root cause: [bold]{root.service}[/] — {root.reason}")
    for alert in incident.alerts:
        console.print(f"  alert {alert.name} on {alert.service} ({alert.severity.value}, {alert.status})")
    for log in incident.log_evidence[:4]:
        console.print(f"  log   {log.service}: {log.template[:90]} ×{log.count} ({log.reason[:60]})")
    for span in incident.span_evidence[:3]:
        console.print(f"  span  {span.kind} {span.service} {span.operation} trace {span.trace_id}")
    for similar in incident.similar_incidents[:3]:
        console.print(f"  similar {similar.kind} {similar.doc_id} (score {similar.score:.2f})")
    console.rule("[bold]Audit trail (aiops.decisions, aiops.executions)")
    table = Table("time", "proposal", "action", "event", "detail")
    events = [(d.evaluated_at, d.proposal_id, "decision",
               ("allow" if d.allow else "deny") + f" ({d.trigger}, OPA {d.opa_decision_id or '-'}, "
               f"policy {d.policy_revision})", "; ".join(d.reasons)) for d in trail.decisions]
    events += [(e.started_at, e.proposal_id, "execution", f"{e.status.value} via {e.executor}",
                e.response or e.error or "") for e in trail.executions]
    for at, proposal_id, kind, what, detail in sorted(events, key=lambda row: row[0]):
        known = trail.proposals.get(proposal_id)
        action = known.action if known else "?"
        table.add_row(_when(at), proposal_id[-8:], action, f"{kind}: {what}", detail[:90])
    console.print(table)


def run_demo(settings: Settings, approve_as: str | None, speed: float, timeout_s: float, console: Console,
             confirm: Callable[[str], bool], with_console: bool = False, keep_topics: bool = False) -> AuditTrail:
    from aiops.demo.local_services import OpaServer, PlatformCtlServer
    from aiops.demo.replay import DEFAULT_SCENARIO, load, replay
    from aiops.gatekeeper.approvals import approval_record, produce_approval
    from aiops.gatekeeper.keys import KeyStore
    from aiops.stack import components

    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    workdir = settings.state_dir / "demo" / run_id
    workdir.mkdir(parents=True, exist_ok=True)
    prefix = f"demo-{run_id}."
    say = lambda msg: console.print(f"[dim]{msg}[/]")  # noqa: E731

    stack_started = not all(row.healthy for row in components.status(settings))
    if stack_started:
        say("starting the local stack (Kafka, OPA)")
        components.up(settings, say=say)
    demo = Settings(**{**settings.model_dump(exclude={"topic_prefix", "default_partitions"}),
                       "topic_prefix": prefix, "default_partitions": 1})
    processes = Processes(workdir)
    opa = platform = reader = None
    trail = AuditTrail()
    try:
        create_topics(demo)
        approver = approve_as or "alice"
        key = KeyStore(workdir / "keys").create(approver, ["sre"])
        # With the console and nobody named to approve, the bundle starts with no approver: the person enrols
        # the key their browser made, and only that key can approve.
        browser_only = with_console and not approve_as
        opa = OpaServer(components.binary(settings, "opa"), settings.policy_dir, workdir,
                        {} if browser_only else key.policy_entry())
        opa.start()
        platform = PlatformCtlServer().__enter__()
        who = "no approver yet" if browser_only else f"{approver}'s key (group sre)"
        say(f"policy: private OPA at {opa.url} with {who}; platform-ctl simulator at "
            f"{platform.url}; topics prefixed {prefix}")
        memory_port = free_port()
        env = {**os.environ, "AIOPS_TOPIC_PREFIX": prefix, "AIOPS_DEFAULT_PARTITIONS": "1",
               "AIOPS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "AIOPS_STATE_DIR": str(workdir),
               "AIOPS_MEMORY_PORT": str(memory_port), "AIOPS_MEMORY_SERVICE_URL": f"http://127.0.0.1:{memory_port}",
               "AIOPS_OPA_URL": opa.url, "AIOPS_PLATFORM_CTL_URL": platform.url,
               "AIOPS_WEBHOOK_URL": f"{platform.url}/hooks/actions", "AIOPS_INCIDENT_SNAPSHOT_INTERVAL_S": "1",
               "AIOPS_INCIDENT_QUIET_PERIOD_S": "5"}
        env.pop("AIOPS_MEMORY_URI", None)
        indexed = start_memory(processes, env, settings)
        say(f"institutional memory: {indexed} handbook documents indexed (Milvus Lite, BM25)")
        processes.start("worker", ["worker", "-a", "normalize", "-a", "correlate", "-a", "triage",
                                   "--loglevel", "warn"], env)
        processes.start("gatekeeper", ["gatekeeper", "--loglevel", "warning"], env)
        # The bridges the observability stack talks to: alerts arrive as Alertmanager webhooks, spans as OTLP/HTTP.
        bridge_ports = {RAW_ALERTS: free_port(), OTLP_SPANS: free_port()}
        processes.start("alertmanager-bridge", ["connect", "alertmanager", "--port",
                                                str(bridge_ports[RAW_ALERTS]), "--loglevel", "warning"], env)
        processes.start("otlp-receiver", ["connect", "otlp", "--port", str(bridge_ports[OTLP_SPANS]),
                                          "--loglevel", "warning"], env)
        bridges = {topic: f"http://127.0.0.1:{port}" for topic, port in bridge_ports.items()}
        wait_for_health(processes, [f"{url}/healthz" for url in bridges.values()])
        console_url = start_console(processes, env, settings, opa.bundle) if with_console else None
        if console_url:
            console.print(f"console: {console_url}", soft_wrap=True)
            console.print(f"policy bundle: {opa.bundle}", soft_wrap=True)
            console.print("approve in the console: make a key on its Key page, then enrol it (as an admin would) "
                          f"with: aiops keys enroll NAME --groups sre --public-key NAME.jwk --policy-dir {opa.bundle}",
                          soft_wrap=True)
        reader = OutputReader(demo, trail)

        recording = load(DEFAULT_SCENARIO)
        replay_error: list[BaseException] = []

        def play() -> None:
            try:
                replay(recording, demo, speed, bridges=bridges)
            except BaseException as exc:  # reported by the main thread
                replay_error.append(exc)

        player = threading.Thread(target=play, daemon=True)
        player.start()
        say(f"replaying {recording.name}: {len(recording.records)} records over {recording.duration_s:.0f}s "
            f"at {speed:g}x (alerts through the Alertmanager bridge, spans through the OTLP receiver, logs as "
            "Vector writes them to Kafka)")

        approved: set[str] = set()
        last_size: tuple = ()
        last_change = time.monotonic()
        deadline = time.monotonic() + timeout_s
        status = "waiting for telemetry…"
        with Live(render(trail, status), console=console, refresh_per_second=4, transient=False) as live:
            while True:
                processes.check()
                if replay_error:
                    raise DemoError(f"the replay failed: {replay_error[0]}")
                if time.monotonic() > deadline:
                    raise DemoError(f"the demo did not finish within {timeout_s:.0f}s; logs in {workdir}")
                with reader.lock:
                    waiting = [p for p in trail.proposals.values() if p.risk_class != RiskClass.read_only
                               and p.id not in approved and (d := trail.last_decision(p.id)) is not None
                               and not d.allow and any("approval" in r for r in d.reasons)]
                    executed = [p for p in trail.proposals.values() if p.risk_class != RiskClass.read_only
                                and trail.succeeded(p.id)]
                    status = (f"{len(trail.incidents)} incident(s), {len(trail.proposals)} proposal(s), "
                              f"{len(trail.decisions)} decision(s), {len(trail.executions)} execution record(s)")
                if browser_only and waiting:
                    status += f" - waiting for an approval in the console: {console_url}"
                    waiting = []
                live.update(render(trail, status))
                for proposal in waiting:
                    live.stop()
                    question = (f"Approve {proposal.action} {dict(proposal.parameters)} on "
                                f"{proposal.target.service} ({proposal.risk_class.value}, blast radius "
                                f"{proposal.blast_radius})?\n  rationale: {proposal.rationale[:200]}")
                    if approve_as or confirm(question):
                        approval = approval_record(proposal, key, "approve", source="demo", comment="demo approval",
                                                   ttl_s=600)
                        produce_approval(demo, approval)
                        console.print(f"[green]approved[/] {proposal.id} as {approver} (signed ES256, "
                                      f"kid {key.kid})")
                    else:
                        console.print(f"[yellow]not approved[/] {proposal.id}")
                    approved.add(proposal.id)
                    live.start()
                # Finished when the approved action ran, the whole recording was played, and the outputs have
                # been quiet for a few seconds (the last signals worked through the pipeline).
                size = (len(trail.incidents), sum(i.version for i in trail.incidents.values()),
                        len(trail.proposals), len(trail.decisions), len(trail.executions))
                if size != last_size:
                    last_size, last_change = size, time.monotonic()
                if executed and not player.is_alive() and time.monotonic() - last_change > QUIET_S:
                    break
                time.sleep(0.25)
        with reader.lock:
            acted_on = {p.incident_id for p in trail.proposals.values()
                        if p.risk_class != RiskClass.read_only and trail.succeeded(p.id)}
            incident = next(i for i in trail.incidents.values() if i.id in acted_on)
            print_audit_trail(console, trail, incident)
        calls = [c for c in platform.calls if c.method == "POST"]
        console.print(f"platform-ctl simulator received {len(calls)} action call(s): " + ", ".join(
            f"{c.path.rsplit('/', 1)[-1]} (key {(c.idempotency_key or '?')[-12:]})" for c in calls))
        if console_url:
            keep_console_up(processes, console, console_url)
        return trail
    finally:
        if reader is not None:
            reader.stop()
        processes.stop()
        if platform is not None:
            platform.__exit__(None, None, None)
        if opa is not None:
            opa.stop()
        # Each run has topics of its own: left behind, every demo would add its set to a long-lived broker.
        if keep_topics:
            say(f"kept the run's topics ({prefix}*)")
        else:
            try:
                delete_prefixed_topics(settings.kafka_bootstrap, prefix)
                say(f"deleted the run's topics ({prefix}*; --keep-topics keeps them)")
            except Exception as error:  # noqa: BLE001 - never hide why the demo itself stopped
                say(f"could not delete the run's topics ({prefix}*): {error}")
        if stack_started:
            say("stopping the local stack")
            components.down(settings)
