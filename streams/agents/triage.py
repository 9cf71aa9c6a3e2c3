"""triage_incidents: incident snapshots (aiops.incidents) → proposals (aiops.proposals); resolved incidents
are written back to institutional memory with the actions taken and their outcomes.

What triage remembers per incident and when it acts is aiops/triage/state.py; how it proposes is
aiops/triage/triager.py. Proposal ids are deterministic, so a replayed snapshot proposes nothing new.
record_outcomes keeps each proposal's last execution status in a global table, so the write-back can say how
the actions ended.
"""

from __future__ import annotations

import faust

from aiops.core import metrics
from aiops.core.topics import EXECUTIONS, INCIDENTS, PROPOSALS
from aiops.memory.client import OnDemandMemoryClient
from aiops.triage.state import Step, TriageState
from aiops.triage.triager import Triager
from streams.app import StreamContext
from streams.output_records import Execution, Incident
from streams.topics import Input, raw_topic


def register(app: faust.App, ctx: StreamContext) -> None:
    decode_incident = ctx.decoder(Incident, INCIDENTS)
    # A null value is a merged incident's tombstone: nothing to triage, not a dead letter.
    incidents = Input.declare(app, ctx, INCIDENTS, lambda value: None if value is None else decode_incident(value))
    executions = Input.declare(app, ctx, EXECUTIONS, ctx.decoder(Execution, EXECUTIONS))
    proposals_topic = raw_topic(app, ctx, PROPOSALS)
    proposal_codec = ctx.codec("Proposal", PROPOSALS)
    incident_to_triage = app.Table("incident_to_triage")
    proposal_to_outcome = app.GlobalTable("proposal_to_outcome")
    triager = Triager(ctx.settings, OnDemandMemoryClient(ctx.settings))

    @app.agent(incidents.topic, name="triage_incidents")
    async def triage_incidents(stream: faust.StreamT) -> None:
        async for _message, snapshot in incidents.decoded(stream):
            if snapshot is None:
                continue
            state = TriageState.from_table(incident_to_triage.get(snapshot.id))
            step = state.next_step(snapshot)
            if step is Step.write_back:
                actions = state.actions_taken(lambda pid: proposal_to_outcome.get(pid, "proposed"))
                if await triager.write_back(snapshot, actions):
                    incident_to_triage[snapshot.id] = state.wrote_back().to_table()
            elif step is Step.propose:
                proposals = state.unsent(await triager.propose(snapshot))
                for proposal in proposals:
                    value = proposal_codec.encode(proposal.to_avro())
                    await proposals_topic.send(key=proposal.id.encode(), value=value)
                    metrics.PROPOSALS.labels(proposal.action, proposal.proposer.kind).inc()
                incident_to_triage[snapshot.id] = state.proposed(snapshot.root_cause.service, proposals).to_table()

    @app.agent(executions.topic, name="record_outcomes")
    async def record_outcomes(stream: faust.StreamT) -> None:
        async for _message, execution in executions.decoded(stream):
            proposal_to_outcome[execution.proposal_id] = execution.status.value
