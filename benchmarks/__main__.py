"""``python -m benchmarks <name|all> [--quick]``: run benchmarks, print markdown, save raw JSON.

Names: enqueue (a), end-to-end (b), io-bound (c), pickup (d), program-eval (f); end-to-end-events
is (b) with task events on vs off (Flower's price), not part of ``all``. ``--quick`` is a smoke run of a few
seconds each, for CI: it exits non-zero if a benchmark cannot run, never because a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import end_to_end, enqueue, io_bound, pickup, program_eval
from benchmarks.report import RESULTS_DIR, machine_info, write_results
from benchmarks.stack import ensure_tools

BENCHMARKS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "enqueue": enqueue.run,
    "end-to-end": end_to_end.run,
    "end-to-end-events": end_to_end.run_events,
    "io-bound": io_bound.run,
    "pickup": pickup.run,
    "program-eval": program_eval.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    parser.add_argument("--quick", action="store_true", help="smoke run (seconds); figures are meaningless")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help=f"where to write the JSON (default: {RESULTS_DIR}, or a temp dir with --quick)")
    args = parser.parse_args(argv)
    results_dir = args.results_dir or (Path(tempfile.mkdtemp(prefix="bench-quick-")) if args.quick else RESULTS_DIR)
    ensure_tools()
    machine = machine_info()
    print(f"# {machine['date_utc']} on {machine['cpus']} x {machine['cpu_model']}, load {machine['loadavg_at_start']}")
    command = " ".join(["python -m benchmarks", *(sys.argv[1:] if argv is None else argv)])
    failed = []
    # "all" is (a)-(d); end-to-end-events re-runs (b) for Flower's price, on request only.
    names = [n for n in BENCHMARKS if n != "end-to-end-events"] if args.name == "all" else [args.name]
    for name in names:
        started = time.monotonic()
        machine = machine_info()  # this benchmark's start time and load
        print(f"\n## {name}{' (quick)' if args.quick else ''}", flush=True)
        try:
            record = BENCHMARKS[name](args.quick)
        except Exception:  # noqa: BLE001 - report every benchmark, then fail
            traceback.print_exc()
            failed.append(name)
            continue
        record.update(machine=machine, quick=args.quick, command=command,
                      wall_seconds=round(time.monotonic() - started, 1))
        path = write_results(name + ("-quick" if args.quick else ""), record, results_dir)
        target = record["target"]
        verdict = "not judged (--quick)" if args.quick else ("met" if target["met"] else "MISSED")
        print(record["table"])
        print(f"\ntarget {target['what']}: measured {target['measured']:.3g} -> {verdict}"
              f"  ({record['wall_seconds']} s, raw: {path})", flush=True)
    if failed:
        print(f"\nbenchmarks that could not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
