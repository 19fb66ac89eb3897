"""``python -m rehearsal [--small] [--only NAME ...]``: run the drills, print the table.

Exit 0 when every drill lost nothing and duplicated nothing, 1 otherwise,
2 when a drill could not run (the sentence says why).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

from .report import CannotRun, Outcome, table, write

ROOT = Path(__file__).resolve().parent.parent

# name -> "module:function"; each function takes ``small: bool`` and returns a list of Outcome.
DRILLS: dict[str, str] = {
    "postgres-failover": "rehearsal.postgres:failover",
    "image-kill-container": "rehearsal.image:kill_container",
    "rabbitmq-kill-leader": "rehearsal.rabbitmq:kill_leader",
    "rabbitmq-partition": "rehearsal.rabbitmq:partition",
}
# Too slow or too demanding for CI (the image is built first: `make image`): run by the full
# rehearsal, and by --small only when named with --only.
FULL_ONLY = {"image-kill-container"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearsal", description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the size CI runs: fewer complaints, one round each")
    parser.add_argument("--only", nargs="+", choices=sorted(DRILLS), metavar="DRILL",
                        help=f"run only these drills ({', '.join(sorted(DRILLS))})")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "rehearsal", help="where the JSON goes")
    parser.add_argument("--image", action="store_true",
                        help="run every drill's services as containers of the image `make image` built")
    args = parser.parse_args(argv)
    if args.image:
        from . import image, systems

        problem = image.image_problem()
        if problem:
            print(f"rehearsal: cannot run from the image: {problem}", file=sys.stderr)
            return 2
        systems.use_image(image.IMAGE)
        print(f"== every drill's services run as containers of {image.IMAGE}", flush=True)
    outcomes: list[Outcome] = []
    for name in args.only or [d for d in DRILLS if not (args.small and d in FULL_ONLY)]:
        module, function = DRILLS[name].split(":")
        started = time.monotonic()
        print(f"== drill {name} ...", flush=True)
        try:
            outcomes += getattr(importlib.import_module(module), function)(small=args.small)
        except CannotRun as exc:
            print(f"rehearsal: drill {name} cannot run here: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # a drill that broke is a failed drill, and the others still run
            traceback.print_exc()
            outcomes.append(Outcome(name, 0, 0, 0, 0, 0.0, problems=[f"the drill broke: {exc.__class__.__name__}: {exc}"]))
        print(f"== drill {name} done in {time.monotonic() - started:.0f} s", flush=True)
    print()
    print(table(outcomes))
    print(f"\nwritten to {write(outcomes, args.out, args.small)}")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
