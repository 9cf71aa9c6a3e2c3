"""The console's pages and the fragments live pages fetch when a record arrives (server-rendered HTML)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from jinja2 import Environment

from aiops.console.bundle import key_status, valid_kid
from aiops.console.handbook import Handbook, render_markdown
from aiops.console.queries import ConsoleQueries
from aiops.console.rendering import environment
from aiops.console.trust import console_track_records


@dataclass
class PageContext:
    """What every page handler reads: the records, the handbook, and how tokens are made here."""

    queries: ConsoleQueries
    handbook: Handbook
    token_ttl_s: int
    opa_url: str
    policy_dir: Path | None  # shown in the enrolment command; the console never writes it
    change_number: Callable[[], int]  # the latest change the store announced: pages subscribe from there


class Pages:
    def __init__(self, context: PageContext):
        self.context = context
        self.env: Environment = environment()
        self._http: aiohttp.ClientSession | None = None

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.incidents, name="incidents")
        app.router.add_get("/incidents/{id}", self.incident, name="incident")
        app.router.add_get("/incidents/{id}/row", self.incident_row)
        app.router.add_get("/proposals", self.proposals, name="proposals")
        app.router.add_get("/proposals/{id}", self.proposal, name="proposal")
        app.router.add_get("/proposals/{id}/gate", self.proposal_gate)
        app.router.add_get("/proposals/{id}/row", self.proposal_row)
        app.router.add_get("/handbook/{doc_id}", self.handbook_document, name="handbook")
        app.router.add_get("/trust", self.trust, name="trust")
        app.router.add_get("/keys", self.keys, name="keys")
        app.router.add_get("/keys/{kid}/status", self.key_status)
        app.on_cleanup.append(self._close)

    def _render(self, template: str, status: int = 200, **values: Any) -> web.Response:
        page = self.env.get_template(template).render(
            config={"token_ttl_s": self.context.token_ttl_s, "server_time_ms": int(time.time() * 1000),
                    "policy_dir": str(self.context.policy_dir) if self.context.policy_dir else None},
            handbook=self.context.handbook, seq=self.context.change_number(), **values)
        return web.Response(text=page, content_type="text/html", status=status)

    def _not_found(self, what: str) -> web.Response:
        return self._render("missing.html", status=404, page="missing", what=what)

    async def incidents(self, request: web.Request) -> web.Response:
        queries = self.context.queries
        return self._render("incidents.html", page="incidents", incidents=queries.incidents(),
                            counts=queries.waiting_counts())

    async def incident_row(self, request: web.Request) -> web.Response:
        incident = self.context.queries.incident(request.match_info["id"])
        if incident is None:
            return self._not_found("incident")
        return self._render("fragments/incident_row.html", page="fragment", incident=incident,
                            counts=self.context.queries.waiting_counts())

    async def incident(self, request: web.Request) -> web.Response:
        incident = self.context.queries.incident(request.match_info["id"])
        if incident is None:
            return self._not_found(f"incident {request.match_info['id']}")
        proposals = self.context.queries.incident_proposals(incident["id"])
        known = {row["id"] for row in self.context.queries.incidents()}
        return self._render("incident.html", page="incident", incident=incident, proposals=proposals,
                            known_incidents=known)

    async def proposals(self, request: web.Request) -> web.Response:
        return self._render("proposals.html", page="proposals", proposals=self.context.queries.proposals())

    async def proposal(self, request: web.Request) -> web.Response:
        view = self.context.queries.proposal(request.match_info["id"])
        if view is None:
            return self._not_found(f"proposal {request.match_info['id']}")
        incident = self.context.queries.incident(view.proposal["incident_id"])
        return self._render("proposal.html", page="proposal", view=view, incident=incident)

    async def proposal_gate(self, request: web.Request) -> web.Response:
        view = self.context.queries.proposal(request.match_info["id"])
        if view is None:
            return self._not_found("proposal")
        return self._render("fragments/gate.html", page="fragment", view=view, full="full" in request.query)

    async def proposal_row(self, request: web.Request) -> web.Response:
        view = self.context.queries.proposal(request.match_info["id"])
        if view is None:
            return self._not_found("proposal")
        return self._render("fragments/proposal_row.html", page="fragment", view=view)

    async def handbook_document(self, request: web.Request) -> web.Response:
        document = self.context.handbook.get(request.match_info["doc_id"])
        if document is None:
            return self._not_found(f"handbook document {request.match_info['doc_id']}")
        return self._render("handbook.html", page="handbook", document=document, body=render_markdown(document.body))

    async def trust(self, request: web.Request) -> web.Response:
        store = self.context.queries.store
        return self._render("trust.html", page="trust", records=console_track_records(store),
                            capacity=store.latest["proposals"].capacity)

    async def keys(self, request: web.Request) -> web.Response:
        return self._render("keys.html", page="keys")

    async def key_status(self, request: web.Request) -> web.Response:
        kid = request.match_info["kid"]
        if not valid_kid(kid):
            return web.json_response({"error": "not a key id (NAME-<12 hex>)"}, status=400)
        if self._http is None:
            self._http = aiohttp.ClientSession()
        status = await key_status(self._http, self.context.opa_url, kid)
        return web.json_response(status.as_json())

    async def _close(self, app: web.Application) -> None:
        if self._http is not None:
            await self._http.close()
