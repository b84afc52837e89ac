"""Where a worker spends its CPU per task: a diagnostic for benchmark (c), not a benchmark.

``python -m benchmarks.worker_profile 5000 [ENV=VALUE ...]`` starts our worker (``python -m worker``)
against a private Redis with the given environment, warms it up with 1,000 one-second
``external_call`` tasks (so every thread and connection exists), publishes the rest as the API
does, and prints tasks/s and the worker tree's CPU per task as JSON. With ``--py-spy SECONDS`` it
also records each worker process with py-spy (``pip install py-spy``; not a pinned dependency)
sampling only the thread holding the GIL, and prints the functions with the largest share.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.stack import ScratchDir, private_redis, tree_cpu_seconds, tree_pids
from benchmarks.workers import VariantSpec, start_variant

WARM_UP_TASKS = 1000


def gil_shares(paths: list[Path], top: int) -> list[tuple[float, str]]:
    """Inclusive share of py-spy's raw (collapsed) samples per function, largest first."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            total += int(count)
            names = {re.sub(r":\d+\)$", ")", frame.strip()) for frame in stack.split(";")}
            for name in names:
                counts[name] += int(count)
    return [(100 * c / max(total, 1), name) for name, c in counts.most_common(top)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", type=int)
    parser.add_argument("env", nargs="*", help="ENV=VALUE for the worker, e.g. WORKER_PROCESSES=4")
    parser.add_argument("--py-spy", type=int, default=0, metavar="SECONDS")
    args = parser.parse_args()
    env = tuple((name, value) for name, _, value in (item.partition("=") for item in args.env))
    scratch = ScratchDir()
    with private_redis() as server:
        variant = start_variant(VariantSpec("profiled", "ours", "", env=env), server, 0, scratch)
        try:
            kwargs = {"latency_seconds": 1.0}
            variant.publish_backlog("external_call", WARM_UP_TASKS, kwargs)
            variant.wait_done(WARM_UP_TASKS, timeout=300)
            variant.reset_results()
            cpu_before, start = tree_cpu_seconds(variant.process.pid), time.perf_counter()
            variant.publish_backlog("external_call", args.tasks, kwargs)
            spies, out = [], Path(tempfile.mkdtemp(prefix="worker-profile-"))
            if args.py_spy:
                spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
                if not Path(spy).exists():
                    raise SystemExit("py-spy not found: pip install py-spy (into this virtualenv), or drop --py-spy")
                for pid in tree_pids(variant.process.pid):
                    spies.append(subprocess.Popen(
                        [spy, "record", "-p", str(pid), "-d", str(args.py_spy), "-r", "200", "-f", "raw", "--gil",
                         "--nonblocking", "-o", str(out / f"{pid}.txt")],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            variant.wait_done(args.tasks, timeout=600)
            elapsed = time.perf_counter() - start
            cpu = tree_cpu_seconds(variant.process.pid) - cpu_before
            print(json.dumps({"env": dict(env), "tasks": args.tasks, "tasks_per_s": round(args.tasks / elapsed, 1),
                              "worker_cpu_ms_per_task": round(cpu * 1000 / args.tasks, 3),
                              "load_average": os.getloadavg()}))
            for process in spies:
                process.wait()
            if spies:
                for share, name in gil_shares(sorted(out.glob("*.txt")), 60):
                    print(f"{share:5.1f}% {name[:160]}")
        finally:
            variant.process.stop()


if __name__ == "__main__":
    main()
