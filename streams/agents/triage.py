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
from streams.topics import Input, raw_topic


def register(app: faust.App, ctx: StreamContext) -> None:
    incident_codec = ctx.codec("Incident", INCIDENTS)
    execution_codec = ctx.codec("Execution", EXECUTIONS)
    # A null value is a merged incident's tombstone: nothing to triage, not a dead letter.
    incidents = Input.declare(app, ctx, INCIDENTS, lambda v: None if v is None else incident_codec.decode(v))
    executions = Input.declare(app, ctx, EXECUTIONS, execution_codec.decode)
    proposals_topic = raw_topic(app, ctx, PROPOSALS)
    proposal_codec = ctx.codec("Proposal", PROPOSALS)
    incident_to_triage = app.Table("incident_to_triage")
    proposal_to_outcome = app.GlobalTable("proposal_to_outcome")
    triager = Triager(ctx.settings, OnDemandMemoryClient(ctx.settings))

    @app.agent(incidents.topic, name="triage_incidents")
    async def triage_incidents(stream: faust.StreamT) -> None:
        async for _message, incident in incidents.decoded(stream):
            if incident is None:
                continue
            state = TriageState.from_table(incident_to_triage.get(incident["id"]))
            step = state.next_step(incident)
            if step is Step.write_back:
                actions = state.actions_taken(lambda pid: proposal_to_outcome.get(pid, "proposed"))
                if await triager.write_back(incident, actions):
                    incident_to_triage[incident["id"]] = state.wrote_back().to_table()
            elif step is Step.propose:
                proposals = await triager.propose(incident)
                for proposal in proposals:
                    await proposals_topic.send(key=proposal["id"].encode(), value=proposal_codec.encode(proposal))
                    metrics.PROPOSALS.labels(proposal["action"], proposal["proposer"]["kind"]).inc()
                incident_to_triage[incident["id"]] = state.proposed(incident["root_cause"]["service"],
                                                                    proposals).to_table()

    @app.agent(executions.topic, name="record_outcomes")
    async def record_outcomes(stream: faust.StreamT) -> None:
        async for _message, execution in executions.decoded(stream):
            proposal_to_outcome[execution["proposal_id"]] = execution["status"]
