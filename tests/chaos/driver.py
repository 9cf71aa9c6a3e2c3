"""The chaos run: the demo scenario replayed through the real processes while they are killed (SIGKILL) and
restarted, OPA is frozen (SIGSTOP) and, in the full profile, the broker is restarted; then a checker reads the
topics and says whether the guarantees held.

Processes: the stream worker (normalize, the condensing per-service stages, correlate, triage), the gatekeeper,
the Alertmanager bridge, the OTLP receiver and the memory service, each started as `aiops ...` and killed with
SIGKILL at random. The replay retries a bridge that is down, as Alertmanager and the Collector do. An approver
approves every state-changing proposal that waits for an approval; OPA is frozen right before one of those
approvals, so the gate has to decide while OPA cannot answer.

The checker proves, from the topics and the platform-ctl simulator's call log:
- every alert sent is in exactly one incident (the latest snapshot of each incident, merged ones removed);
- every action that ran, ran exactly once (one call per idempotency key at platform-ctl), and every approved
  action ran (no approval lost);
- no action was allowed, and none started, while OPA was frozen, and no allow rests on an answer slower than
  the OPA timeout (a question asked in the freeze's last moments may be answered right after OPA resumes).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from aiops.core.avro import codec_for
from aiops.core.settings import Settings
from aiops.core.topics import DECISIONS, EXECUTIONS, INCIDENTS, OTLP_SPANS, PROPOSALS, RAW_ALERTS, create_topics
from aiops.demo.local_services import OpaServer, PlatformCtlServer, free_port
from aiops.demo.replay import BRIDGED_PATHS, DEFAULT_SCENARIO, load, schedule
from aiops.gatekeeper.approvals import approval_record, produce_approval
from aiops.gatekeeper.keys import KeyStore
from aiops.memory.client import MemoryClient
from aiops.memory.documents import load_handbook
from streams.output_records import Decision, Execution, Incident, Proposal
from tests.processes import AIOPS


@dataclass(frozen=True)
class Profile:
    name: str
    speed: float  # replay speed (the scenario lasts 150 s)
    kills: int  # SIGKILLs, spread over the replay
    opa_pause_s: float  # how long OPA is frozen
    restart_broker: bool  # a private broker, restarted once
    timeout_s: float  # for everything to settle after the replay


SHORT = Profile("short", speed=10.0, kills=5, opa_pause_s=5.0, restart_broker=False, timeout_s=180.0)
FULL = Profile("full", speed=2.0, kills=24, opa_pause_s=30.0, restart_broker=True, timeout_s=420.0)


@dataclass
class Figures:
    kills: Counter = field(default_factory=Counter)
    exits: Counter = field(default_factory=Counter)  # processes that ended on their own (then restarted)
    broker_restarts: int = 0
    opa_window: tuple[float, float] | None = None  # wall clock (seconds) OPA was frozen
    opa_window_mono: tuple[float, float] | None = None
    approvals: dict[str, float] = field(default_factory=dict)  # proposal id -> when the approval was acked
    replayed: Counter = field(default_factory=Counter)
    bridge_retries: int = 0
    records_checked: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        kills = ", ".join(f"{name} {n}" for name, n in sorted(self.kills.items()))
        exits = ", ".join(f"{name} {n}" for name, n in sorted(self.exits.items())) or "none"
        checked = ", ".join(f"{topic} {n}" for topic, n in sorted(self.records_checked.items()))
        window = f"{self.opa_window[1] - self.opa_window[0]:.1f}s" if self.opa_window else "-"
        return (f"{sum(self.kills.values())} SIGKILLs ({kills}); exits on their own: {exits}; broker restarts: "
                f"{self.broker_restarts}; OPA frozen {window}; {sum(self.replayed.values())} records replayed "
                f"({self.bridge_retries} bridge retries); {len(self.approvals)} approvals; records checked: "
                f"{checked}")


class Fleet:
    """The system's processes by name: started, killed with SIGKILL, restarted."""

    def __init__(self, logs: Path, env: dict[str, str]):
        self.logs = logs
        self.env = env
        self.args: dict[str, list[str]] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: Counter = Counter()
        self.lock = threading.Lock()

    def add(self, name: str, args: list[str]) -> None:
        self.args[name] = args
        self.start(name)

    def start(self, name: str) -> None:
        self.starts[name] += 1
        with (self.logs / f"{name}-{self.starts[name]}.log").open("wb") as log:
            self.procs[name] = subprocess.Popen([AIOPS, *self.args[name]], env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)

    def kill_and_restart(self, name: str, down_s: float) -> None:
        """SIGKILL (a crash: no shutdown hooks), stay down a moment, start again; atomic for restart_exited."""
        with self.lock:
            proc = self.procs[name]
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            time.sleep(down_s)
            self.start(name)

    def restart_exited(self, figures: Figures) -> None:
        with self.lock:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    figures.exits[name] += 1
                    self.start(name)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def read_topic(settings: Settings, name: str, record: type, committed: bool = True) -> list[tuple[bytes | None, Any]]:
    """(key, decoded record or None for a tombstone) for every record of a topic, from the beginning."""
    topic = settings.topic(name)
    codec = codec_for(record.__name__, topic, settings)
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"chaos-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "enable.partition.eof": True,
                         "isolation.level": "read_committed" if committed else "read_uncommitted"})
    found = []
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        pending = set(partitions)
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if (error := message.error()) is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(message.partition())
                continue
            value = message.value()
            found.append((message.key(), None if value is None else record.from_avro(codec.decode(value))))
    finally:
        consumer.close()
    return found


class ChaosRun:
    def __init__(self, profile: Profile, workdir: Path, opa_binary: Path, bootstrap: str,
                 broker_settings: Settings | None = None, seed: int = 20261127):
        self.profile = profile
        self.workdir = workdir
        self.opa_binary = opa_binary
        self.broker_settings = broker_settings  # a private broker the run may restart
        self.rng = random.Random(seed)
        self.prefix = f"chaos-{uuid.uuid4().hex[:8]}."
        self.sent = sent_alerts()  # read once: the settle loop asks every 2 s
        self.settings = Settings(kafka_bootstrap=bootstrap, topic_prefix=self.prefix, default_partitions=1)
        self.figures = Figures()
        self.stopping = threading.Event()
        self.replay_done = threading.Event()

    # --- the system ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        create_topics(self.settings)
        self.key = KeyStore(self.workdir / "keys").create("alice", ["sre"])
        self.opa = OpaServer(self.opa_binary, Settings().policy_dir, self.workdir, self.key.policy_entry())
        self.opa.start()
        self.platform = PlatformCtlServer().__enter__()
        memory_port, alerts_port, otlp_port = free_port(), free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
        env.update({"AIOPS_TOPIC_PREFIX": self.prefix, "AIOPS_DEFAULT_PARTITIONS": "1",
                    "AIOPS_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap, "AIOPS_STATE_DIR": str(self.workdir),
                    "AIOPS_MEMORY_PORT": str(memory_port),
                    "AIOPS_MEMORY_SERVICE_URL": f"http://127.0.0.1:{memory_port}", "AIOPS_OPA_URL": self.opa.url,
                    "AIOPS_PLATFORM_CTL_URL": self.platform.url,
                    "AIOPS_WEBHOOK_URL": f"{self.platform.url}/hooks/actions",
                    "AIOPS_INCIDENT_SNAPSHOT_INTERVAL_S": "1", "AIOPS_INCIDENT_QUIET_PERIOD_S": "5",
                    "AIOPS_GATEKEEPER_SESSION_TIMEOUT_S": "6", "AIOPS_GATEKEEPER_INSTANCE_ID": "chaos-gatekeeper",
                    "AIOPS_GATEKEEPER_RETRY_INITIAL_S": "0.5", "AIOPS_GATEKEEPER_RETRY_MAX_S": "4",
                    "AIOPS_WORKER_METRICS_PORT": "0", "AIOPS_GATEKEEPER_METRICS_PORT": "0",
                    "AIOPS_ALERTMANAGER_BRIDGE_METRICS_PORT": "0", "AIOPS_OTLP_RECEIVER_METRICS_PORT": "0"})
        self.fleet = Fleet(self.workdir, env)
        self.fleet.add("memory", ["memory", "serve"])
        with MemoryClient(env["AIOPS_MEMORY_SERVICE_URL"]) as memory:
            deadline = time.monotonic() + 90
            while not memory.is_up():
                if time.monotonic() > deadline:
                    raise AssertionError("the memory service did not come up")
                time.sleep(0.3)
            memory.upsert([doc.to_record() for doc in load_handbook(Settings().handbook_dir)])
        self.fleet.add("worker", ["worker", "-a", "normalize", "-a", "correlate", "-a", "triage", "--loglevel",
                                  "warn"])
        self.fleet.add("gatekeeper", ["gatekeeper", "--loglevel", "warning"])
        self.fleet.add("alertmanager-bridge", ["connect", "alertmanager", "--port", str(alerts_port),
                                               "--loglevel", "warning"])
        self.fleet.add("otlp-receiver", ["connect", "otlp", "--port", str(otlp_port), "--loglevel", "warning"])
        self.bridges = {RAW_ALERTS: f"http://127.0.0.1:{alerts_port}", OTLP_SPANS: f"http://127.0.0.1:{otlp_port}"}

    def stop(self) -> None:
        self.stopping.set()
        for obj, method in ((getattr(self, "fleet", None), "stop"), (getattr(self, "opa", None), "stop")):
            if obj is not None:
                getattr(obj, method)()
        if getattr(self, "platform", None) is not None:
            self.platform.__exit__(None, None, None)

    # --- the load: replay and approver -----------------------------------------------------------------------------

    def replay(self) -> None:
        """The scenario at speed; a bridge that is down (killed) is retried, as the real senders do."""
        producer = Producer({"bootstrap.servers": self.settings.kafka_bootstrap, "linger.ms": 10,
                             "enable.idempotence": True})
        http = httpx.Client(timeout=10.0)
        started = time.monotonic()
        try:
            for at, topic, key, value in schedule(load(DEFAULT_SCENARIO)):
                while (delay := started + at / self.profile.speed - time.monotonic()) > 0:
                    producer.poll(min(delay, 0.2))
                if topic in self.bridges:
                    while not self.stopping.is_set():
                        try:
                            response = http.post(self.bridges[topic] + BRIDGED_PATHS[topic], content=value,
                                                 headers={"Content-Type": "application/json"})
                            if response.status_code < 500:
                                break
                        except httpx.HTTPError:
                            pass
                        self.figures.bridge_retries += 1
                        time.sleep(0.5)
                else:
                    producer.produce(self.settings.topic(topic), key=key, value=value)
                    producer.poll(0)
                self.figures.replayed[topic] += 1
            producer.flush(120)
        finally:
            http.close()
            self.replay_done.set()

    def approver(self) -> None:
        """Approve each state-changing proposal the gate denied for want of an approval (OPA frozen for the first)."""
        seen: set[str] = set()
        while not self.stopping.is_set():
            time.sleep(1.0)
            try:
                proposals = {p.id: p for _, p in read_topic(self.settings, PROPOSALS, Proposal) if p is not None}
                decisions = [d for _, d in read_topic(self.settings, DECISIONS, Decision) if d is not None]
            except Exception:  # the broker is restarting: look again in a moment
                continue
            for decision in decisions:
                proposal = proposals.get(decision.proposal_id)
                if proposal is None or proposal.id in seen or decision.allow or not any(
                        "needs 1 approval" in reason for reason in decision.reasons):
                    continue
                seen.add(proposal.id)
                freeze = self.figures.opa_window is None
                if freeze:
                    self.freeze_opa_start()
                approval = approval_record(proposal, self.key, "approve", source="chaos", comment=None, ttl_s=3600)
                while not self.stopping.is_set():
                    try:
                        produce_approval(self.settings, approval, timeout_s=30)
                        self.figures.approvals[proposal.id] = time.time()
                        break
                    except Exception:  # the broker is restarting: the approver tries again, as a person would
                        time.sleep(1)
                if freeze:
                    time.sleep(self.profile.opa_pause_s)
                    self.freeze_opa_end()

    def freeze_opa_start(self) -> None:
        assert self.opa.process is not None
        os.kill(self.opa.process.pid, signal.SIGSTOP)
        self._frozen = (time.time(), time.monotonic())

    def freeze_opa_end(self) -> None:
        assert self.opa.process is not None
        # The window closes before OPA resumes: an answer OPA gives after SIGCONT is always later than its end.
        self.figures.opa_window = (self._frozen[0], time.time())
        self.figures.opa_window_mono = (self._frozen[1], time.monotonic())
        os.kill(self.opa.process.pid, signal.SIGCONT)

    # --- the chaos -----------------------------------------------------------------------------------------------

    def chaos(self) -> None:
        names = sorted(self.fleet.args)
        duration = 150.0 / self.profile.speed
        interval = max(1.0, duration / max(1, self.profile.kills))
        restart_at = self.profile.kills // 2 if self.profile.restart_broker else -1
        done = 0
        while done < self.profile.kills and not self.stopping.is_set():
            time.sleep(self.rng.uniform(0.5, 1.5) * interval)
            # Every process gets killed at least once, then at random.
            name = names[done] if done < len(names) else self.rng.choice(names)
            self.fleet.kill_and_restart(name, self.rng.uniform(0.2, 1.5))
            self.figures.kills[name] += 1
            done += 1
            if done == restart_at:
                self.restart_broker()

    def restart_broker(self) -> None:
        from aiops.stack import kafka

        assert self.broker_settings is not None
        kafka.stop(self.broker_settings)
        time.sleep(2)
        kafka.start(self.broker_settings, say=lambda msg: None)
        kafka.wait_healthy(self.broker_settings)
        self.figures.broker_restarts += 1

    def run(self) -> None:
        threads = [threading.Thread(target=target, daemon=True) for target in (self.replay, self.approver, self.chaos)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 150.0 / self.profile.speed + self.profile.timeout_s
        quiet_since, last = time.monotonic(), None
        while time.monotonic() < deadline:
            time.sleep(2)
            self.fleet.restart_exited(self.figures)
            if not self.replay_done.is_set() or threads[2].is_alive():
                continue
            try:
                snapshot = (len(read_topic(self.settings, DECISIONS, Decision)),
                            len(read_topic(self.settings, EXECUTIONS, Execution)), len(self.platform.posts()))
            except Exception:
                continue
            # Settled: every approved action ran and every alert sent reached an incident (a worker restarted by
            # the chaos rejoins its group only after the killed member's session expires, so it may lag a while;
            # an alert that never arrives keeps this false until the deadline, and the check then reports it).
            settled = (self.figures.approvals and all(self._succeeded(pid) for pid in list(self.figures.approvals))
                       and self._every_alert_has_an_incident())
            if snapshot != last:
                last, quiet_since = snapshot, time.monotonic()
            elif settled and time.monotonic() - quiet_since > 10:
                break
        self.stopping.set()

    def _every_alert_has_an_incident(self) -> bool:
        homes = Counter(alert.fingerprint for incident in self._incidents().values() if incident is not None
                        for alert in incident.alerts)
        return all(homes[fingerprint] for fingerprint in self.sent)

    def _incidents(self) -> dict[bytes, Incident | None]:
        """The latest version of each incident (uncommitted reads too: the worker's output is not transactional)."""
        incidents: dict[bytes, Incident | None] = {}
        for key, incident in read_topic(self.settings, INCIDENTS, Incident, committed=False):
            known = incidents.get(key or b"")
            if incident is None or known is None or incident.version >= known.version:
                incidents[key or b""] = incident
        return incidents

    def _succeeded(self, proposal_id: str) -> bool:
        return any(e.proposal_id == proposal_id and e.status.value == "succeeded"
                   for _, e in read_topic(self.settings, EXECUTIONS, Execution) if e is not None)

    # --- the checker -----------------------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Every guarantee that did not hold, with the evidence (empty: all held)."""
        problems: list[str] = []
        incidents = self._incidents()
        decisions = [d for _, d in read_topic(self.settings, DECISIONS, Decision) if d is not None]
        executions = [e for _, e in read_topic(self.settings, EXECUTIONS, Execution) if e is not None]
        proposals = {p.id: p for _, p in read_topic(self.settings, PROPOSALS, Proposal) if p is not None}
        self.figures.records_checked.update({INCIDENTS: len(incidents), DECISIONS: len(decisions),
                                             EXECUTIONS: len(executions), PROPOSALS: len(proposals)})
        sent = self.sent
        homes = Counter(alert.fingerprint for incident in incidents.values() if incident is not None
                        for alert in incident.alerts)
        for fingerprint in sorted(sent):
            if homes[fingerprint] != 1:
                problems.append(f"alert {fingerprint} is in {homes[fingerprint]} incidents, not exactly one")
        posts = Counter(call.idempotency_key for call in self.platform.posts())
        for key, count in posts.items():
            if count != 1:
                problems.append(f"idempotency key {key} was called {count} times at platform-ctl")
        for proposal_id in self.figures.approvals:
            proposal = proposals.get(proposal_id)
            if proposal is None or posts[proposal.idempotency_key] != 1:
                problems.append(f"approved proposal {proposal_id} did not run exactly once (approval lost?)")
            if not any(e.proposal_id == proposal_id and e.status.value == "succeeded" for e in executions):
                problems.append(f"approved proposal {proposal_id} has no succeeded Execution")
        if self.figures.opa_window is None or self.figures.opa_window_mono is None:
            problems.append("OPA was never frozen (no state-changing proposal waited for an approval)")
        else:
            start, end = self.figures.opa_window
            problems += opa_window_problems(decisions, (start, end), self.settings.opa_timeout_s)
            allowed_before = {d.proposal_id for d in decisions
                              if d.allow and d.evaluated_at.timestamp() - d.latency_ms / 1000 < start + 0.01}
            mono_start, mono_end = self.figures.opa_window_mono
            for call in self.platform.posts():
                pid = (call.body or {}).get("proposal_id")
                if mono_start <= call.at <= mono_end and pid not in allowed_before:
                    problems.append(f"platform-ctl was called for {pid} while OPA was frozen")
        return problems


def sent_alerts() -> set[str]:
    """The fingerprints of every alert the scenario sends."""
    sent: set[str] = set()
    for _, topic, _, value in schedule(load(DEFAULT_SCENARIO)):
        if topic == RAW_ALERTS:
            sent |= {alert["fingerprint"] for alert in json.loads(value)["alerts"]}
    return sent


def opa_window_problems(decisions: list[Decision], window: tuple[float, float], opa_timeout_s: float) -> list[str]:
    """The allows that cannot have come from OPA, given the wall-clock window it was frozen in.

    A decision carries when it was made (right after OPA's answer) and how long OPA took, hence when the gatekeeper
    asked. A question asked while OPA was frozen has no answer before OPA resumes, so an allow made inside the
    window on such a question was made without OPA (fail closed broken). A question asked in the window's last
    moments may be answered just after OPA resumes, within the OPA timeout: that allow is legitimate; an answer
    slower than the timeout never allows (it counts as a deny).
    """
    start, end = window
    problems = []
    for decision in (d for d in decisions if d.allow):
        decided = decision.evaluated_at.timestamp()
        asked = decided - decision.latency_ms / 1000
        if start + 0.01 <= asked and decided <= end:
            problems.append(f"decision {decision.id} allowed {decision.proposal_id} while OPA was frozen, "
                            f"on a question asked {asked - start:.2f}s into the freeze")
        if decision.latency_ms > opa_timeout_s * 1000 + 500:
            problems.append(f"decision {decision.id} allowed {decision.proposal_id} on an answer that took "
                            f"{decision.latency_ms:.0f} ms (more than the OPA timeout)")
    return problems
