"""Where the project's data lives: the source checkout when running from one, else the copy the wheel installed.

The wheel installs `schemas/`, `policy/`, `actions/` and the sample `handbook/` under `<prefix>/share/aiops/`
(pyproject's data-files), so a plain `pip install` finds them without a checkout. A source checkout wins
over an installed copy, so that an editable install always reads the files being edited.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

# The repository root when this file sits in a checkout (aiops/core/paths.py -> ../..).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIRS = ("schemas", "policy", "actions", "handbook")


def _in_checkout() -> bool:
    return (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "schemas").is_dir()


def _installed_roots() -> list[Path]:
    roots = [Path(sysconfig.get_path("data")) / "share" / "aiops", Path(sys.prefix) / "share" / "aiops"]
    user = sysconfig.get_path("data", f"{sys.platform.startswith('win') and 'nt' or 'posix'}_user")
    roots.append(Path(user) / "share" / "aiops")
    return roots


def data_path(name: str) -> Path:
    """The directory (or file) `name` of the project's data, e.g. `data_path("policy")`.

    Falls back to the checkout's path when nothing is installed, so the error a caller raises names a
    path a person recognises.
    """
    if _in_checkout():
        return PROJECT_ROOT / name
    for root in _installed_roots():
        if (root / name).exists():
            return root / name
    return PROJECT_ROOT / name
