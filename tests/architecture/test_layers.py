"""The layering of the three import roots holds: no import cycles, no upward imports, every module placed."""

from __future__ import annotations

from pathlib import Path

from aiops.core.paths import PROJECT_ROOT
from tests.architecture.layers import ROOTS, cycles, import_graph, layer_of, module_name, upward_imports


def test_the_source_packages_have_no_import_cycles():
    assert cycles(import_graph(PROJECT_ROOT)) == []


def test_no_module_imports_a_higher_layer():
    assert upward_imports(import_graph(PROJECT_ROOT)) == []


def test_every_module_has_a_layer():
    for root in ROOTS:
        for path in (PROJECT_ROOT / root).rglob("*.py"):
            layer_of(module_name(PROJECT_ROOT, path))


def test_core_imports_nothing_above_it():
    core = [i for i in import_graph(PROJECT_ROOT) if i.importer.startswith("aiops.core")]
    assert core, "the graph reads core's imports"
    assert {i.imported for i in core if not i.imported.startswith("aiops.core") and i.imported != "aiops"} == set()


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_an_upward_import_is_reported(tmp_path):
    root = _tree(tmp_path, {
        "aiops/__init__.py": "",
        "aiops/core/__init__.py": "",
        "aiops/core/settings.py": "def f():\n    from aiops.gatekeeper.service import Gatekeeper\n",
        "aiops/gatekeeper/__init__.py": "",
        "aiops/gatekeeper/service.py": "from aiops.core.settings import f\n",
        "streams/__init__.py": "", "connectors/__init__.py": "",
    })
    graph = import_graph(root)
    assert upward_imports(graph) == [
        "aiops.core.settings:2 imports aiops.gatekeeper.service (layer 0 -> 3)"]
    assert cycles(graph) == [["aiops.core.settings", "aiops.gatekeeper.service"]]


def test_relative_imports_and_a_cycle_inside_one_layer_are_reported(tmp_path):
    root = _tree(tmp_path, {
        "aiops/__init__.py": "",
        "aiops/memory/__init__.py": "",
        "aiops/memory/store.py": "from . import client\n",
        "aiops/memory/client.py": "from .store import Store\n",
        "streams/__init__.py": "", "connectors/__init__.py": "",
    })
    graph = import_graph(root)
    assert upward_imports(graph) == []
    assert cycles(graph) == [["aiops.memory.client", "aiops.memory.store"]]
