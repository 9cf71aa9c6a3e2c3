"""`aiops trust run`: the trust ladder's process. It follows the audit topics and incidents from the beginning,
writes Outcomes (aiops.outcomes), and moves selectors on the ladder.

After each batch, once the history that existed at start was read (so that no decision rests on half a
history), every selector's track record is reviewed:
- gated: if OPA's promotion rule says it is earned and no promotion proposal for it is open, a
  `promote_autonomy` Proposal goes to aiops.proposals (the gatekeeper then wants two policy owners);
- autonomous: if OPA's demotion rule says so (or OPA cannot answer and an outcome since the grant was
  harmful), the demoted grant is written at once (no approval: tightening is always allowed) and a Decision
  with trigger `demotion` says why.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from aiops.core import metrics
from aiops.core.avro import codec_for
from aiops.core.errors import AiopsError
from aiops.core.settings import Settings
from aiops.core.topics import DECISIONS, EXECUTIONS, INCIDENTS, OUTCOMES, PROPOSALS
from aiops.trust.audit import Audit, AuditReader
from aiops.trust.ladder import LadderRules, Verdict, demoted_grant, demotion_decision, promotion_proposal
from aiops.trust.track_record import PROMOTE, Selector, TrackRecord, selector_of, track_records
from aiops.trust.verifier import OutcomeVerifier
from connectors.executors.opa_data import GrantWriter
from streams.output_records import Decision, Outcome

log = logging.getLogger("trust")
RETRY_S = 5.0


class TrustService:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.clock = clock
        self.verifier = OutcomeVerifier(settings.trust_outcome_window_s)
        self.audit = Audit()
        self.seen_proposals: set[str] = set()
        self.outcome_ids: set[str] = set()
        self.reviewed: dict[Selector, tuple[str, str, bool]] = {}
        self.demoted: list[TrackRecord] = []  # as of the last review
        self.demotions_checked_at = 0.0
        self.retry_at: float | None = None  # a demotion that could not be written is tried again from then
        self.rules = LadderRules(settings)
        self.writer = GrantWriter(settings)
        self.codecs = {name: codec_for(record, settings.topic(name), settings) for name, record in
                       ((OUTCOMES, "Outcome"), (PROPOSALS, "Proposal"), (DECISIONS, "Decision"))}
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        outcomes = AuditReader(self.settings, (OUTCOMES,))
        await outcomes.start()
        try:  # first what was decided already, so that a replay decides nothing twice
            while not await outcomes.caught_up():
                for _, outcome in await outcomes.poll():
                    self._take(OUTCOMES, outcome)
        finally:
            await outcomes.stop()
        reader = AuditReader(self.settings, (PROPOSALS, DECISIONS, EXECUTIONS, INCIDENTS, OUTCOMES))
        await reader.start()
        if reader.missing:
            await reader.stop()
            raise AiopsError(f"no such topic: {', '.join(reader.missing)}; create them first (`aiops topics create`)")
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all",
                                    enable_idempotence=True)
        await producer.start()
        try:
            while not self._stop.is_set():
                batch = await reader.poll()
                for name, record in batch:
                    for outcome in self._take(name, record):
                        await self._send(producer, OUTCOMES, outcome.proposal_id, outcome)
                        metrics.OUTCOMES.labels(outcome.action, outcome.verdict.value).inc()
                        self._take(OUTCOMES, outcome)
                if await reader.caught_up():
                    retry_due = self.retry_at is not None and self.clock() >= self.retry_at
                    if batch or retry_due or not self.ready.is_set():
                        await self.review(producer)
                    if self.clock() >= self.demotions_checked_at + self.settings.trust_grant_check_s:
                        await self.keep_demotions()
                    self.ready.set()
        finally:
            await reader.stop()
            await producer.stop()
            await self.rules.close()
            await self.writer.close()

    def _take(self, name: str, record: Any) -> list[Outcome]:
        """One record read: into the audit and the verifier; returns the Outcomes it decided."""
        if name == INCIDENTS:
            return self.verifier.on_incident(record)
        if name == OUTCOMES:
            if record.proposal_id in self.outcome_ids:
                return []
            self.outcome_ids.add(record.proposal_id)
            self.verifier.on_outcome(record)
        if name == PROPOSALS:
            if record.id in self.seen_proposals:
                return []  # our own promotion proposal, read back
            self.seen_proposals.add(record.id)
        self.audit.add(name, record)
        if name == PROPOSALS:
            return self.verifier.on_proposal(record)
        if name == EXECUTIONS:
            return self.verifier.on_execution(record)
        return []

    async def _send(self, producer: AIOKafkaProducer, name: str, key: str, record: Any) -> None:
        await producer.send_and_wait(self.settings.topic(name), self.codecs[name].encode(record.to_avro()),
                                     key=key.encode())

    async def review(self, producer: AIOKafkaProducer) -> None:
        """Every selector's record against the bundle's rules: promotions proposed, demotions written."""
        self.retry_at = None
        a = self.audit
        records = track_records(a.proposals, a.decisions, a.executions, a.outcomes)
        self.demoted = [r for r in records.values() if r.state == "demoted"]
        for state in ("gated", "autonomous", "demoted"):
            metrics.AUTONOMY_SELECTORS.labels(state).set(sum(r.state == state for r in records.values()))
        for selector, rec in sorted(records.items()):
            seen = (json.dumps(rec.for_policy(), sort_keys=True), rec.state, self._promotion_open(selector))
            if self.reviewed.get(selector) == seen:
                continue  # nothing the rules read has changed since this selector was last asked about
            self.reviewed[selector] = seen
            if rec.state == "gated" and rec.approved_executions > 0 and not seen[2]:
                verdict = await self.rules.promotion(rec)
                self._unanswered(selector, verdict)
                if verdict.yes:
                    proposal = promotion_proposal(rec, self.settings)
                    log.info("promotion proposed for %s: %s", selector.label(), proposal.id)
                    await self._send(producer, PROPOSALS, proposal.id, proposal)
                    metrics.AUTONOMY_CHANGES.labels(selector.action, "proposed").inc()
                    self._take(PROPOSALS, proposal)
            elif rec.state == "autonomous" and sum(rec.since_grant.values()) > 0:
                verdict = await self.rules.demotion(rec)
                self._unanswered(selector, verdict)
                if verdict.yes:
                    await self._demote(producer, rec, verdict.reasons)

    async def keep_demotions(self) -> None:
        """Every demotion on record is still in force where grants are written, or is written again.

        Documents written through OPA's data API live in its memory: after an OPA restart, a demotion of a grant
        the bundle ships would be gone and the action autonomous again. The Decision on aiops.decisions is the
        record; this puts OPA back in line with it.
        """
        self.demotions_checked_at = self.clock()
        for rec in self.demoted:
            s = rec.selector
            try:
                grant = await self.writer.read(s.action, s.environment, s.namespace)
                if isinstance(grant, dict) and grant.get("autonomous") is False:
                    continue
                reasons = rec.grant.demotion_reasons if rec.grant else []
                await self.writer.write(s.action, s.environment, s.namespace, demoted_grant(rec, reasons))
                log.warning("demotion of %s was not in force (grant: %r); written again", s.label(), grant)
            except (AiopsError, OSError) as exc:
                log.error("cannot check the demotion of %s: %s", s.label(), exc)

    def _unanswered(self, selector: Selector, verdict: Verdict) -> None:
        """Without OPA's answer, the selector is asked about again shortly."""
        if not verdict.answered:
            self.reviewed.pop(selector, None)
            self.retry_at = self.clock() + RETRY_S

    async def _demote(self, producer: AIOKafkaProducer, rec: TrackRecord, reasons: list[str]) -> None:
        s = rec.selector
        try:
            where = await self.writer.write(s.action, s.environment, s.namespace, demoted_grant(rec, reasons))
        except (AiopsError, OSError) as exc:
            # Not written: tried again shortly (while OPA is unreachable the gate denies everything anyway).
            log.error("demotion of %s not written (%s); retrying in %gs", s.label(), exc, RETRY_S)
            self.retry_at = self.clock() + RETRY_S
            self.reviewed.pop(s, None)
            return
        decision: Decision = demotion_decision(rec, reasons, where)
        log.warning("demoted %s: %s", s.label(), "; ".join(reasons))
        await self._send(producer, DECISIONS, decision.proposal_id, decision)
        metrics.AUTONOMY_CHANGES.labels(s.action, "demoted").inc()
        self._take(DECISIONS, decision)

    def _promotion_open(self, selector: Selector) -> bool:
        """A promotion proposal for this selector that has not expired yet (approved, pending or vetoed)."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        return any(p.action == PROMOTE and selector_of(p) == selector and p.expires_at > now
                   for p in self.audit.proposals)


def run(settings: Settings) -> None:
    """Run until interrupted."""
    asyncio.run(TrustService(settings).run())

