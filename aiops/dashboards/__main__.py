"""`python -m aiops.dashboards [--out DIR] [--check]`: write (or check) the dashboards' JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiops.dashboards.build import DEFAULT_OUT, stale, write_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiops.dashboards", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"directory to write to (default: {DEFAULT_OUT})")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs from the code")
    args = parser.parse_args(argv)
    if args.check:
        differing = stale(args.out)
        for name in differing:
            print(f"stale: {args.out / name}", file=sys.stderr)
        return 1 if differing else 0
    for path in write_all(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
