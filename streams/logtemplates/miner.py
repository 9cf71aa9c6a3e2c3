"""One drain3 template miner per service, with a compact snapshot that restores it exactly.

drain3 persists itself by jsonpickling its whole `Drain` object, and restoring that instantiates whatever
classes the state names. The state lives on a Kafka changelog topic, so the snapshot here is plain JSON
of the same three things drain3 saves and restores (`id_to_cluster` in LRU order, `clusters_counter`,
`root_node`), zlib-compressed: nothing in it can construct objects, and it does not depend on the private
attributes of cachetools' LRUCache that jsonpickle would record.
"""

from __future__ import annotations

import copy
import json
import zlib
from dataclasses import dataclass
from typing import Any

from drain3 import TemplateMiner
from drain3.drain import LogCluster, LogClusterCache, Node
from drain3.template_miner_config import TemplateMinerConfig
from pydantic import BaseModel, ConfigDict, Field

from aiops.core.settings import Settings
from streams.logtemplates.errors import SnapshotError
from streams.logtemplates.masking import MASK_PREFIX, MASK_SUFFIX, MaskingConfig

SNAPSHOT_FORMAT = "aiops.logtemplates.miner"
SNAPSHOT_VERSION = 1


@dataclass(frozen=True, slots=True)
class TemplateMatch:
    """The template a message belongs to. `change_type` is drain3's: cluster_created,
    cluster_template_changed or none."""

    template_id: str
    template: str
    change_type: str


class MinerConfig(BaseModel):
    """Drain parameters and masking for the miners of every service."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sim_th: float = Field(0.4, gt=0, le=1, description="similarity below which a message starts a new template")
    depth: int = Field(4, ge=3, description="prefix tree depth (drain3 `depth`)")
    max_children: int = Field(100, ge=2, description="children per tree node")
    max_clusters: int = Field(1000, ge=1, description="templates kept per service, least recently used evicted")
    parametrize_numeric_tokens: bool = Field(True, description="tokens with digits route like wildcards")
    extra_delimiters: tuple[str, ...] = Field((), description="split tokens on these too, besides whitespace")
    max_message_chars: int = Field(2048, ge=16, description="longer messages are cut before masking")
    first_line_only: bool = Field(True, description="mine the first line of multi-line messages (stack traces)")
    masking: MaskingConfig = Field(default_factory=MaskingConfig)

    @classmethod
    def from_settings(cls, settings: Settings) -> MinerConfig:
        """From the `log_template_*` and `log_mask_*` fields of the settings object."""
        return cls(
            sim_th=settings.log_template_sim_th,
            depth=settings.log_template_depth,
            max_children=settings.log_template_max_children,
            max_clusters=settings.log_template_max_clusters,
            parametrize_numeric_tokens=settings.log_template_parametrize_numeric_tokens,
            extra_delimiters=tuple(settings.log_template_extra_delimiters),
            masking=MaskingConfig.from_settings(settings),
        )

    def drain3_config(self) -> TemplateMinerConfig:
        """drain3's config, set here rather than read from a drain3.ini in the working directory."""
        config = TemplateMinerConfig()
        config.engine = "Drain"
        config.drain_sim_th = self.sim_th
        config.drain_depth = self.depth
        config.drain_max_children = self.max_children
        config.drain_max_clusters = self.max_clusters
        config.parametrize_numeric_tokens = self.parametrize_numeric_tokens
        config.drain_extra_delimiters = list(self.extra_delimiters)
        config.masking_instructions = self.masking.instructions()
        config.mask_prefix = MASK_PREFIX
        config.mask_suffix = MASK_SUFFIX
        config.profiling_enabled = False
        return config


class ServiceTemplateMiner:
    """The templates of one service's log messages; template ids are drain3 cluster ids, as strings."""

    def __init__(self, config: MinerConfig | None = None, service: str = "") -> None:
        self.config = config or MinerConfig()
        self.service = service
        # No persistence handler: drain3 would snapshot through jsonpickle; the Faust table keeps to_bytes().
        self._miner = TemplateMiner(persistence_handler=None, config=self.config.drain3_config())

    def prepare(self, message: str) -> str:
        """The part of a message that is mined: its first line, cut to max_message_chars."""
        if self.config.first_line_only:
            message = message.lstrip("\r\n").split("\n", 1)[0].rstrip("\r")
        return message[: self.config.max_message_chars]

    def add(self, message: str) -> TemplateMatch:
        """Learn from a message and return its template (which may have just been created or generalised)."""
        result = self._miner.add_log_message(self.prepare(message))
        return TemplateMatch(str(result["cluster_id"]), str(result["template_mined"]), str(result["change_type"]))

    def match(self, message: str) -> TemplateMatch | None:
        """The known template a message fits, without learning anything (None when it fits none)."""
        cluster = self._miner.match(self.prepare(message), full_search_strategy="fallback")
        if cluster is None:
            return None
        return TemplateMatch(str(cluster.cluster_id), cluster.get_template(), "none")

    def template(self, template_id: str) -> str | None:
        """The current text of a template, None when unknown or evicted."""
        try:
            cluster = self._miner.drain.id_to_cluster.get(int(template_id))
        except ValueError:
            return None
        return None if cluster is None else cluster.get_template()

    def templates(self) -> dict[str, str]:
        """Every live template by id."""
        return {str(c.cluster_id): c.get_template() for c in self._miner.drain.clusters}

    def __len__(self) -> int:
        return len(self._miner.drain.id_to_cluster)

    def to_bytes(self) -> bytes:
        """The miner's state, zlib-compressed JSON, bounded by max_clusters.

        Tree nodes that lead to no live template any more (their templates were evicted) are dropped from
        this miner first, so the tree does not grow without bound. No current answer changes; a full node
        regains child slots for new tokens.
        """
        drain = self._miner.drain
        _prune(drain.root_node, drain.id_to_cluster)
        lru = copy.copy(drain.id_to_cluster)  # popping a copy yields least recently used first
        clusters = []
        while lru:
            _, cluster = lru.popitem()
            if cluster is not None:  # the cache's value type allows None; drain3 never stores it
                clusters.append([cluster.cluster_id, cluster.size, list(cluster.log_template_tokens)])
        state = {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "service": self.service,
            "depth": drain.log_cluster_depth,
            "param": drain.param_str,
            "clusters_counter": drain.clusters_counter,
            "clusters": clusters,
            "tree": _node_to_json(drain.root_node),
        }
        return zlib.compress(json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode())

    @classmethod
    def from_bytes(cls, data: bytes, config: MinerConfig | None = None) -> ServiceTemplateMiner:
        """A miner in exactly the state `to_bytes()` saved: same template ids, templates and tree.

        Raises:
            SnapshotError: the bytes are not a snapshot of this format, or were taken with another tree depth.
        """
        try:
            state = json.loads(zlib.decompress(data))
        except (zlib.error, ValueError, TypeError) as exc:
            raise SnapshotError(f"not a template miner snapshot: {exc}") from None
        if not isinstance(state, dict) or state.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotError("not a template miner snapshot")
        if state.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError(f"template miner snapshot version {state.get('version')!r} is not supported")
        miner = cls(config, service=str(state.get("service", "")))
        drain = miner._miner.drain
        if state.get("depth") != drain.log_cluster_depth or state.get("param") != drain.param_str:
            raise SnapshotError(f"snapshot was taken with depth {state.get('depth')}, the miner is configured "
                                f"with depth {drain.log_cluster_depth}: start from an empty miner instead")
        try:
            lru_order = []  # least recently used first; a smaller max_clusters drops the oldest
            for cluster_id, size, tokens in state["clusters"][-miner.config.max_clusters:]:
                cluster = LogCluster([str(t) for t in tokens], int(cluster_id))
                cluster.size = int(size)
                lru_order.append(cluster)
            id_to_cluster = LogClusterCache(maxsize=miner.config.max_clusters)
            # Insertion in creation order (the order drain3 iterates clusters in), then touches in LRU order.
            for cluster in sorted(lru_order, key=lambda c: c.cluster_id):
                id_to_cluster[cluster.cluster_id] = cluster
            for cluster in lru_order:
                id_to_cluster[cluster.cluster_id]  # a read moves it to most recently used
            root = _node_from_json(state["tree"])
            counter = int(state["clusters_counter"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"corrupt template miner snapshot: {exc!r}") from None
        drain.id_to_cluster = id_to_cluster
        drain.root_node = root
        drain.clusters_counter = counter
        return miner


def _prune(node: Node, live: Any) -> bool:
    """Drop ids of evicted templates and subtrees without live templates; True when `node` became empty."""
    for token, child in list(node.key_to_child_node.items()):
        if _prune(child, live):
            del node.key_to_child_node[token]
    node.cluster_ids = [cid for cid in node.cluster_ids if cid in live]
    return not node.cluster_ids and not node.key_to_child_node


def _node_to_json(node: Node) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    if node.cluster_ids:
        shown["c"] = list(node.cluster_ids)
    if node.key_to_child_node:
        shown["k"] = {token: _node_to_json(child) for token, child in node.key_to_child_node.items()}
    return shown


def _node_from_json(shown: dict[str, Any]) -> Node:
    node = Node()
    node.cluster_ids = [int(cid) for cid in shown.get("c", [])]
    node.key_to_child_node = {str(token): _node_from_json(child) for token, child in shown.get("k", {}).items()}
    return node
