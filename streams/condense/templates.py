"""The template of a log line, fast: a cache in front of each service's drain3 miner.

Mining a line (masking, then drain's tree search) costs tens of microseconds; most lines repeat a shape
seen before with other numbers in it. The cache key is the mined part of the line with every run of digits,
or of hex characters holding a digit (ids, hashes), written as one `0`: lines that differ only in their
numbers find their template without drain3, which learns only from the first line of each shape. Two
consequences, both deliberate: such lines share a template (the miner masks and parametrizes numbers
anyway), and a cached line does not move its template in drain3's LRU order (templates in use are touched
once per flush instead, see `touch`).
"""

from __future__ import annotations

import re

from streams.logtemplates.miner import MinerConfig, ServiceTemplateMiner

# A run of hex characters holding a digit: numbers, and the hex ids the miner masks anyway.
_NUMBERS = re.compile(r"\d[0-9a-fA-F]*+|[a-fA-F]++\d[0-9a-fA-F]*+")  # possessive: no backtracking
MAX_CACHED_SHAPES = 50_000  # per service; the cache starts over when full (it is only a shortcut)


class ServiceTemplates:
    """One service's miner and its shape cache. `changed` says the miner learned since the last snapshot."""

    __slots__ = ("miner", "_shapes", "changed", "_used")

    def __init__(self, miner: ServiceTemplateMiner) -> None:
        self.miner = miner
        self._shapes: dict[str, tuple[str, str]] = {}  # shape → (template id, template at the time)
        self.changed = False
        self._used: set[str] = set()

    @classmethod
    def empty(cls, service: str, config: MinerConfig) -> ServiceTemplates:
        return cls(ServiceTemplateMiner(config, service))

    def template_of(self, message: str) -> str:
        """The template id of a line, learning from it when its shape is new."""
        if "\n" in message or len(message) > self.miner.config.max_message_chars:
            message = self.miner.prepare(message)
        shape = _NUMBERS.sub("0", message)
        found = self._shapes.get(shape)
        if found is None:
            clusters_before = len(self.miner)
            match = self.miner.add(message)
            self.changed = True
            if len(self._shapes) >= MAX_CACHED_SHAPES or (
                    len(self.miner) == clusters_before and clusters_before >= self.miner.config.max_clusters):
                self._shapes.clear()  # full, or drain3 evicted a template some cached shape may point to
            found = self._shapes[shape] = (match.template_id, match.template)
        self._used.add(found[0])
        return found[0]

    def template_text(self, template_id: str) -> str:
        return self.miner.template(template_id) or ""

    def touch(self) -> None:
        """Move the templates used since the last call to the front of drain3's LRU order."""
        cache = self.miner._miner.drain.id_to_cluster  # noqa: SLF001 - drain3 exposes no touch
        for template_id in self._used:
            cache[int(template_id)]  # a read through [] moves it to most recently used; .get() would not
        self._used.clear()
