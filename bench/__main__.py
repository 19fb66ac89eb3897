"""``python -m bench``: run the benchmark's cases, print the table, write the JSON.

``make bench`` runs it at full size, ``make bench-smoke`` (and CI) with
``--smoke``: the same cases at a tiny size, so the benchmark never rots.
Every case starts what it needs on this machine (a RabbitMQ vhost, a data
directory, PostgreSQL databases of its own) and removes it afterwards.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench.harness import ROOT, Run, Sizes, load_average, table, write_results

CASES = {
    "intake": "bench.cases.intake",
    "endtoend": "bench.cases.endtoend",
    "relay": "bench.cases.relay",
    "rebuild": "bench.cases.rebuild",
    "reads": "bench.cases.reads",
    "verify": "bench.cases.verify",
    "memory": "bench.cases.memory",
}


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="every case at a tiny size (CI)")
    parser.add_argument("--only", help=f"comma-separated cases: {', '.join(CASES)}")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="where the JSON goes")
    parser.add_argument("--cache", default=str(ROOT / "var" / "bench"),
                        help="where generated logs are kept between runs")
    parser.add_argument("--rebuild-events", type=_sizes, metavar="N,N",
                        help="journal sizes of the rebuild case on SQLite (default 100000,1000000)")
    parser.add_argument("--pg-rebuild-events", type=_sizes, metavar="N,N",
                        help="journal sizes of the rebuild case on PostgreSQL (default 100000)")
    parser.add_argument("--es-events", type=int, metavar="N",
                        help="events the eventsourcing library projects beside the rebuild (default 2000)")
    parser.add_argument("--view-complaints", type=int, metavar="N",
                        help="least complaints in the view of the public reads case (default 100000)")
    parser.add_argument("--verify-events", type=int, metavar="N",
                        help="events of the installation kesah verify checks (default 100000)")
    parser.add_argument("--memory-events", type=_sizes, metavar="SMALL,BIG",
                        help="journal sizes of the memory case (default 100000,1000000)")
    parser.add_argument("--memory-wait", type=float, metavar="SECONDS",
                        help="longest wait for the services' first verification rounds in the memory case (default 240)")
    parser.add_argument("--markdown", metavar="RESULTS",
                        help="print a results file as the Markdown table of docs/performance.md, run nothing")
    args = parser.parse_args(argv)
    if args.markdown:
        import json

        from bench.harness import markdown

        print(markdown(json.loads(Path(args.markdown).read_text())))
        return 0
    names = args.only.split(",") if args.only else list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case {', '.join(unknown)}; one of {', '.join(CASES)}")
    started, load_before = time.monotonic(), load_average()
    work = Path(tempfile.mkdtemp(prefix="kesah-bench-"))
    cache = Path(args.cache) / ("smoke" if args.smoke else "full")
    sizes = Sizes.smoke() if args.smoke else Sizes.full()
    for option in ("rebuild_events", "pg_rebuild_events", "es_events", "view_complaints", "verify_events",
                   "memory_events", "memory_wait"):
        if getattr(args, option) is not None:
            setattr(sizes, option, getattr(args, option))
    run = Run(args.smoke, sizes, work, cache)
    print(f"Kesah Etam benchmark ({'smoke' if args.smoke else 'full'}); load average "
          f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; data in {work}", flush=True)
    try:
        for name in names:
            module = importlib.import_module(CASES[name])
            print(f"\n[{name}] {module.__doc__.strip().splitlines()[0]}", flush=True)
            case_started = time.monotonic()
            try:
                module.run(run)
            except Exception as exc:  # one broken case must not hide the others' figures
                traceback.print_exc()
                run.errors[name] = f"{exc.__class__.__name__}: {exc}"
            finally:
                run.close()
            print(f"    ({time.monotonic() - case_started:.0f}s)", flush=True)
    finally:
        run.close()
        shutil.rmtree(work, ignore_errors=True)
    path = write_results(run, Path(args.out), started, load_before)
    after = load_average()
    print(f"\n{table(run)}\n\nload average before {load_before[0]:.2f}, after {after[0]:.2f}; "
          f"{time.monotonic() - started:.0f}s; written to {path}")
    return 1 if run.errors else 0


if __name__ == "__main__":
    sys.exit(main())
