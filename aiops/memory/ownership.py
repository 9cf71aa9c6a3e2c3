"""Who holds a Milvus Lite data directory: Milvus Lite allows one process per directory, so the store has one owner.

Milvus Lite takes an exclusive `flock` on `<dir>/LOCK` while a process has the directory open, and a second
process that tries gets a bare `ConnectionConfigException()` (and a traceback in the log). The store checks
the lock first and answers with the owner instead, which it learns from an owner file written next to the
directory (`<dir>.owner.json`) or, for a holder that is not ours (e.g. `milvus-lite server`), from /proc/locks.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

LOCK_FILENAME = "LOCK"  # milvus_lite.db.LOCK_FILENAME


def owner_file(data_dir: Path) -> Path:
    """Where the owner of a data directory describes itself."""
    return data_dir.with_name(data_dir.name + ".owner.json")


def held_by_another_process(data_dir: Path) -> bool:
    """Whether some other process holds the directory's Milvus Lite lock right now."""
    lock_path = data_dir / LOCK_FILENAME
    if not lock_path.exists():
        return False
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except OSError:
        return False  # unreadable: Milvus Lite itself will say why it cannot open the directory
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def claim(data_dir: Path, role: str, address: str | None = None) -> None:
    """Record this process as the owner (called once the directory is open)."""
    record = {"pid": os.getpid(), "host": socket.gethostname(), "role": role, "address": address,
              "command": " ".join(sys.argv), "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = owner_file(data_dir)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(path)


def update_address(data_dir: Path, address: str) -> None:
    """Add the address clients should use instead (the service calls this once it listens)."""
    record = read_owner(data_dir)
    if record is not None and record.get("pid") == os.getpid():
        claim(data_dir, str(record.get("role", "")), address)


def release(data_dir: Path) -> None:
    """Remove the owner file if this process wrote it."""
    record = read_owner(data_dir)
    if record is not None and record.get("pid") == os.getpid():
        with contextlib.suppress(OSError):
            owner_file(data_dir).unlink()


def read_owner(data_dir: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(owner_file(data_dir).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def describe_owner(data_dir: Path) -> str:
    """A sentence naming the process that holds the directory, as well as it can be known."""
    record = read_owner(data_dir)
    holder = _lock_holder_pid(data_dir)
    if record is not None and (holder is None or record.get("pid") == holder):
        text = f"pid {record.get('pid')} on {record.get('host')} ({record.get('role') or record.get('command')}"
        if record.get("address"):
            text += f", serving {record['address']}"
        return text + f", since {record.get('since')})"
    if holder is not None:
        return f"pid {holder} ({_command_line(holder) or 'command unknown'})"
    return "another process (it left no owner file)"


def _lock_holder_pid(data_dir: Path) -> int | None:
    # Linux: /proc/locks lists "N: FLOCK ADVISORY WRITE <pid> <maj>:<min>:<inode> 0 EOF".
    try:
        inode = (data_dir / LOCK_FILENAME).stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
            with contextlib.suppress(ValueError):
                return int(fields[4])
    return None


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()
