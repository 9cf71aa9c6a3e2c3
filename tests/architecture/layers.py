"""The import graph of the source packages, and the two rules it must keep: no cycles, no upward imports.

Every module gets a layer from the first rule in LAYERS that its dotted name matches; a module may import
modules of its own layer or of a lower one, never of a higher one. Imports are read with `ast` (module level
and inside functions alike: a lazy import is still a dependency), so nothing is executed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOTS = ("aiops", "streams", "connectors")

# (pattern, layer): the first match wins. Lower layers know nothing of higher ones.
LAYERS: list[tuple[str, int]] = [
    (r"^aiops\.cli$", 9),  # the `aiops` command puts the subsystems' commands together
    (r"^[\w.]+\.cli$", 8),  # each subsystem's commands sit on top of it
    (r"^aiops$", 0),  # the package marker (version string)
    (r"^aiops\.core(\.|$)", 0),  # settings, errors, paths, topics, Avro, catalog, metrics
    (r"^aiops\.stack(\.|$)", 1),  # the local stack
    (r"^aiops\.(memory|triage)(\.|$)", 1),  # domain libraries over core
    # pure cores, records
    (r"^streams\.(ingest|logtemplates|correlation|anomaly|metrics|records|output_records|scopes)(\.|$)", 1),
    (r"^streams\.condense(\.|$)", 2),  # condensing: pure cores over ingest and logtemplates, and its Kafka loop
    (r"^aiops\.(feed|dashboards)(\.|$)", 1),
    (r"^connectors\.executors(\.|$)", 2),  # what the gatekeeper calls
    (r"^connectors\.approvals_http$", 4),  # approval ingress: verifies tokens with the gatekeeper's code
    (r"^connectors(\.|$)", 2),  # the bridges (they use the stream decoders)
    (r"^aiops\.gatekeeper(\.|$)", 3),
    (r"^aiops\.trust(\.|$)", 3),  # the trust ladder: outcomes, track records, promotions (calls OPA, writes grants)
    (r"^aiops\.mcp(\.|$)", 3),  # an interface over memory, triage's proposals and the output topics
    (r"^streams(\.|$)", 4),  # the Faust app and its agents
    (r"^aiops\.console(\.|$)", 5),  # the on-call page: the feed's store, the gatekeeper's binding, approval ingress
    (r"^aiops\.(demo|bench|eval)(\.|$)", 5),  # whole-system runs
]


def layer_of(module: str) -> int:
    for pattern, layer in LAYERS:
        if re.search(pattern, module):
            return layer
    raise KeyError(f"no layer for module {module}: add it to LAYERS")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(root: Path, path: Path, known: set[str]) -> Iterable[Import]:
    """The project modules `path` imports (an `import a.b.c` or `from a.b import c` names the deepest known one)."""
    module = module_name(root, path)
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path.name == "__init__.py", node)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                yield Import(module, target, node.lineno)


def import_graph(root: Path, roots: Iterable[str] = ROOTS) -> list[Import]:
    files = [p for r in roots for p in sorted((root / r).rglob("*.py"))]
    known = {module_name(root, p) for p in files}
    return [imp for path in files for imp in imports_of(root, path, known)]


def upward_imports(graph: list[Import]) -> list[str]:
    return [f"{i.importer}:{i.line} imports {i.imported} (layer {layer_of(i.importer)} -> {layer_of(i.imported)})"
            for i in graph if layer_of(i.imported) > layer_of(i.importer)]


def cycles(graph: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. the import cycles."""
    edges: dict[str, set[str]] = {}
    for imp in graph:
        edges.setdefault(imp.importer, set()).add(imp.imported)
        edges.setdefault(imp.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found
