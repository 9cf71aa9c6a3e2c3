"""`aiops memory serve`: the one owner of the memory store, answering the CLI and the agents over HTTP.

Milvus Lite allows one process per data directory, so exactly one process opens the store and everyone else
goes through this service. Endpoints (JSON):

- `GET  /healthz`                -> {status, pid, uri, collection, hybrid, count}
- `GET  /v1/stats`               -> {count, by_kind}
- `POST /v1/documents`           {documents: [{id, kind, title, services, text}]} -> {upserted, count}
- `POST /v1/documents/delete`    {ids: [...]} -> {deleted}
- `POST /v1/search`              {query, top_k, kinds?, services?} -> {hits: [{doc_id, kind, title, score, services}]}
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aiops.core.settings import Settings
from aiops.memory import ownership
from aiops.memory.documents import MemoryRecord
from aiops.memory.errors import EmbeddingError, MemoryStoreError
from aiops.memory.store import MemoryStore

STORE_KEY = web.AppKey("memory_store", MemoryStore)
MAX_REQUEST_BYTES = 32 * 1024 * 1024
MAX_TOP_K = 100
MAX_QUERY_CHARS = 20_000
RequestT = TypeVar("RequestT", bound=BaseModel)


class UpsertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    documents: list[MemoryRecord] = Field(max_length=10_000)


class DeleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(max_length=10_000)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(max_length=MAX_QUERY_CHARS)
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    kinds: list[str] | None = None
    services: list[str] | None = None


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class _BadRequest(Exception):
    """The request body is not what the endpoint takes; the message says why."""


async def _parse(request: web.Request, model: type[RequestT]) -> RequestT:
    try:
        payload = await request.json()
    except ValueError:
        raise _BadRequest("the body is not JSON") from None
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise _BadRequest("; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                                    for e in exc.errors())) from None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _store_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    # The store blocks (pymilvus is synchronous); handlers run it in a thread. Its errors become answers.
    try:
        return await handler(request)
    except _BadRequest as exc:
        return _error(400, str(exc))
    except EmbeddingError as exc:
        return _error(502, str(exc))
    except MemoryStoreError as exc:
        return _error(400, str(exc))


async def healthz(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    count = await asyncio.to_thread(store.count)
    return web.json_response({"status": "ok", "pid": os.getpid(), "uri": store.uri, "collection": store.collection,
                              "hybrid": store.hybrid, "count": count})


async def stats(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    by_kind = await asyncio.to_thread(store.count_by_kind)
    return web.json_response({"count": sum(by_kind.values()), "by_kind": by_kind})


async def upsert_documents(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    body = await _parse(request, UpsertRequest)
    upserted = await asyncio.to_thread(store.upsert, body.documents)
    count = await asyncio.to_thread(store.count)
    return web.json_response({"upserted": upserted, "count": count})


async def delete_documents(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    body = await _parse(request, DeleteRequest)
    deleted = await asyncio.to_thread(store.delete, body.ids)
    return web.json_response({"deleted": deleted})


async def search(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    body = await _parse(request, SearchRequest)
    hits = await asyncio.to_thread(store.search, body.query, body.top_k, body.kinds, body.services)
    return web.json_response({"hits": [hit.model_dump() for hit in hits]})


def create_app(store: MemoryStore) -> web.Application:
    """The service's aiohttp app over an open store (the caller owns and closes the store)."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[_store_errors])
    app[STORE_KEY] = store
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/v1/stats", stats)
    app.router.add_post("/v1/documents", upsert_documents)
    app.router.add_post("/v1/documents/delete", delete_documents)
    app.router.add_post("/v1/search", search)
    return app


async def start(store: MemoryStore, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve the store on host:port (0: any free port); returns the runner and the service URL."""
    runner = web.AppRunner(create_app(store), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = next((addr[1] for addr in runner.addresses if isinstance(addr, tuple)), port)
    url = f"http://{host}:{bound}"
    if store.local_dir is not None:
        ownership.update_address(store.local_dir, url)
    return runner, url


def serve(settings: Settings, host: str, port: int, say: Callable[[str], None] = print) -> None:
    """Open the store as its owner and serve it until SIGINT or SIGTERM; then flush and release it."""
    store = MemoryStore.from_settings(settings, role="aiops memory serve")

    async def run() -> None:
        runner, url = await start(store, host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        count = await asyncio.to_thread(store.count)
        mode = "BM25 + dense (RRF)" if store.hybrid else "BM25"
        say(f"memory service listening on {url} (store {store.uri}, collection {store.collection}, "
            f"{count} records, {mode}, pid {os.getpid()})")
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(run())
    finally:
        store.close()

