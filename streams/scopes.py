"""Correlation scopes: which signals may be correlated with which, and where each scope's work lives.

A scope is the values of the configured scope labels (AIOPS_CORRELATION_SCOPE_LABELS, e.g. the cluster and
the environment) taken from an alert's labels or a log's or span's resource attributes. Signals are keyed by
their scope, so one scope's signals stay in order on one partition of aiops.signals and several workers share
the scopes; incidents never span scopes. With no scope labels every signal is in the one scope "all".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

DEFAULT_SCOPE = "all"
_SEPARATOR = "\x1f"  # between a scope and a table key: a character no scope label value or id holds
_partitioner = DefaultPartitioner()


def scope_of(values: Iterable[Any]) -> str:
    """The scope named by the scope labels' values ('/'-joined); '' when there are no scope labels."""
    return "/".join("" if v is None else str(v) for v in values)


def scope_from(labels: Mapping[str, str], scope_labels: list[str]) -> str:
    return scope_of(labels.get(label, "") for label in scope_labels) if scope_labels else ""


def signal_key(scope: str) -> bytes:
    """The Kafka key of a scope's signals on aiops.signals."""
    return (scope or DEFAULT_SCOPE).encode()


def scope_of_key(key: bytes | None) -> str:
    text = (key or b"").decode("utf-8", "replace")
    return "" if text in ("", DEFAULT_SCOPE) else text


def home_partition(scope: str, partitions: int) -> int:
    """The partition of aiops.signals a scope's signals go to (the producer's default partitioner, murmur2)."""
    return int(_partitioner(signal_key(scope), list(range(partitions)), list(range(partitions))))


class ScopedTable(MutableMapping[str, Any]):
    """One scope's part of a shared table: its keys carry the scope as a prefix. The default scope uses the
    table itself (see `scoped`), so a single-scope deployment keeps its keys as they were."""

    def __init__(self, table: MutableMapping[str, Any], scope: str) -> None:
        self.table = table
        self.prefix = f"{scope}{_SEPARATOR}"

    def __getitem__(self, key: str) -> Any:
        return self.table[self.prefix + key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.table[self.prefix + key] = value

    def __delitem__(self, key: str) -> None:
        del self.table[self.prefix + key]

    def __iter__(self) -> Iterator[str]:
        cut = len(self.prefix)
        return (key[cut:] for key in list(self.table) if key.startswith(self.prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def scoped(table: MutableMapping[str, Any], scope: str) -> MutableMapping[str, Any]:
    return ScopedTable(table, scope) if scope else table


def scopes_in(table: Iterable[str]) -> set[str]:
    """The scopes that have keys in a shared table ('' for the default scope's unprefixed keys)."""
    return {key.split(_SEPARATOR, 1)[0] if _SEPARATOR in key else "" for key in table}
