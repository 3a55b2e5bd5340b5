"""``python -m tools.liveness worker|watcher``: a container's liveness check of its worker or watcher.

Exit 0 when a live process of that role in this container (this ``OEE_DATA_DIR``) beat within
``HEARTBEAT_MAX_AGE_S`` (:mod:`engine.heartbeat`); else 1, saying why. It reads the settings only for the
data directory, and opens no connection: a worker waiting out a PostgreSQL or Redis outage is alive.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine.heartbeat import HEARTBEAT_MAX_AGE_S, liveness
from kernel.settings import load_settings

ROLES = ("worker", "watcher")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.liveness", description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--max-age", type=float, default=HEARTBEAT_MAX_AGE_S, help="seconds a beat is believed")
    args = parser.parse_args(argv)
    problem = liveness(load_settings().data_dir, args.role, max_age_s=args.max_age)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
