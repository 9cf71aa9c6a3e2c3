"""Milvus Lite directories this process has open: one owner claim and one lexical index per collection, shared.

pymilvus starts one embedded Milvus Lite server per directory and process, so several stores in one process may
share a directory; the directory is released (flushed, its lock freed, the owner file removed) when the last of
them closes. The BM25 index of a collection (`aiops.memory.lexical`) is shared the same way, so a record that
one store writes is found right away by a search through another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from aiops.memory import ownership
from aiops.memory.documents import MemoryRecord
from aiops.memory.errors import MemoryStoreError, StoreOwnedError
from aiops.memory.lexical import LexicalIndex

_open_here: dict[Path, int] = {}  # directory -> how many stores have it open
_indexes: dict[tuple[Path, str], LexicalIndex] = {}  # (directory, collection) -> its BM25 index
_lock = threading.Lock()


def open_dir(uri: str, role: str) -> Path:
    """Claim a Milvus Lite directory for this process (or join the stores here that have it open)."""
    path = Path(uri).expanduser().resolve()
    if path.suffix != ".db":
        raise MemoryStoreError(f"memory store URI {uri!r}: a Milvus Lite path must end in .db "
                               "(or use http://host:19530 for a Milvus server)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock:
        if path not in _open_here and ownership.held_by_another_process(path):
            raise StoreOwnedError(owned_message(path))
        first = path not in _open_here
        _open_here[path] = _open_here.get(path, 0) + 1
    if first:
        ownership.claim(path, role)
    return path


def release_dir(path: Path) -> None:
    """One store closed the directory; the last one releases the embedded server, the indexes and the claim."""
    with _lock:
        _open_here[path] -= 1
        last = _open_here[path] == 0
        if last:
            del _open_here[path]
            for key in [key for key in _indexes if key[0] == path]:
                del _indexes[key]
    if last:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(str(path))  # flushes, and frees the directory's lock
        ownership.release(path)


def owned_message(path: Path) -> str:
    """Why another process cannot open the directory, naming its owner."""
    return (f"the memory store {path} is owned by {ownership.describe_owner(path)}; Milvus Lite allows one "
            "process per directory, so go through that owner (`aiops memory serve` answers the CLI and the "
            "agents) or stop it first")


def shared_index(path: Path, collection: str, analyzer_params: dict,
                 records: Callable[[], Iterable[MemoryRecord]]) -> LexicalIndex:
    """The collection's BM25 index, built from `records()` by the first store that asks for it."""
    with _lock:  # held while building, so that a second store does not build (or miss) the same index
        index = _indexes.get((path, collection))
        if index is None:
            index = _indexes[(path, collection)] = LexicalIndex(analyzer_params)
            index.add(records())
        return index
