"""(c) I/O-bound throughput of one worker instance: 1 s ``external_call`` tasks.

Our worker as configured by default against the same worker run as prefork with concurrency 2,
and diagnostic variants. The backlog is published as the API publishes (``publish_backlog``).
Each round publishes ``waves x concurrency`` tasks at once (a backlog), times until all results
are stored, and samples the resident memory of the worker's whole process tree every 100 ms.
"""

from __future__ import annotations

import os
import time
from typing import Any

from benchmarks.report import markdown_table, median, ratio
from benchmarks.stack import PeakRss, ScratchDir, private_redis, tree_cpu_seconds
from benchmarks.workers import VariantSpec, rotated, running_variants

# docs/runtime-contract.md: WORKER_PROCESSES (2) x WORKER_CONCURRENCY (250) for the threads pool,
# which is also what Pulumi.prod.yaml's 2-vCPU threads group sets (concurrency: 250).
OURS_DEFAULT_SLOTS = 2 * 250
VARIANTS = (
    (VariantSpec("ours", "ours", "our worker as configured by default (2 processes x 250 threads)"), OURS_DEFAULT_SLOTS),
    (VariantSpec("diag: 4 processes x 125 threads", "ours", "the same slots over more consumer processes",
                 env=(("WORKER_PROCESSES", "4"), ("WORKER_CONCURRENCY", "125"))), 500),
    (VariantSpec("diag: 1 process x 500 threads", "ours", "one consumer process with as many threads",
                 env=(("WORKER_PROCESSES", "1"), ("WORKER_CONCURRENCY", "500"))), 500),
    (VariantSpec("diag: ours, LOG_LEVEL=WARNING", "ours", "the defaults without the per-task INFO lines",
                 env=(("LOG_LEVEL", "WARNING"),)), OURS_DEFAULT_SLOTS),
    (VariantSpec("prefork-2", "ours", "our worker with WORKER_POOL=prefork WORKER_CONCURRENCY=2",
                 pool="prefork", concurrency=2), 2),
)
BASELINE = "prefork-2"
RSS_LIMIT = 512 * 1024**2
TARGET_TASKS_PER_S = 400


def run(quick: bool) -> dict[str, Any]:
    latency, waves, rounds = (0.2, 2, 1) if quick else (1.0, 8, 3)
    specs = [spec for spec, _ in VARIANTS]
    concurrency = {spec.name: c for spec, c in VARIANTS}
    samples: dict[str, list[dict[str, float]]] = {spec.name: [] for spec in specs}
    scratch = ScratchDir()
    load_at_start = os.getloadavg()
    with private_redis() as server, running_variants(specs, server, scratch) as running:
        for round_index in range(rounds):
            for variant in rotated(running, round_index):
                n = waves * concurrency[variant.spec.name]
                variant.reset_results()
                cpu_before = tree_cpu_seconds(variant.process.pid)
                with PeakRss(variant.process.pid) as rss:
                    start = time.perf_counter()
                    variant.publish_backlog("external_call", n, {"latency_seconds": latency})
                    variant.wait_done(n, timeout=waves * latency * 3 + 60)
                    elapsed = time.perf_counter() - start
                cpu_ms = (tree_cpu_seconds(variant.process.pid) - cpu_before) * 1000 / n
                samples[variant.spec.name].append({"tasks": n, "seconds": elapsed, "tasks_per_s": n / elapsed,
                                                   "peak_rss_bytes": rss.peak, "worker_cpu_ms_per_task": cpu_ms})
    base = median([s["tasks_per_s"] for s in samples[BASELINE]])
    summary = []
    for spec in specs:
        rates = [s["tasks_per_s"] for s in samples[spec.name]]
        peak = max(s["peak_rss_bytes"] for s in samples[spec.name])
        summary.append({
            "variant": spec.name, "description": spec.description, "concurrency": concurrency[spec.name],
            "rates": rates,
            "median_tasks_per_s": median(rates), "ideal_tasks_per_s": concurrency[spec.name] / latency,
            "peak_rss_mib": peak / 1024**2, "ratio_vs_prefork_2": ratio(median(rates), base),
            "median_worker_cpu_ms_per_task": median([s["worker_cpu_ms_per_task"] for s in samples[spec.name]]),
        })
    ours_rate = median([s["tasks_per_s"] for s in samples["ours"]])
    ours_peak = max(s["peak_rss_bytes"] for s in samples["ours"])
    table = markdown_table(
        ["variant", "slots", "median tasks/s", "min", "max", "ideal tasks/s", "peak RSS (MiB, tree)",
         "worker CPU ms/task"],
        [[r["variant"], r["concurrency"], r["median_tasks_per_s"], min(r["rates"]), max(r["rates"]),
          r["ideal_tasks_per_s"], r["peak_rss_mib"], r["median_worker_cpu_ms_per_task"]] for r in summary],
    )
    return {
        "name": "io-bound",
        "parameters": {"latency_seconds": latency, "waves": waves, "rounds": rounds, "logs": str(scratch.path),
                       "load_average_at_start": load_at_start},
        "samples": samples,
        "summary": summary,
        "target": {"what": f">= {TARGET_TASKS_PER_S} tasks/s with the shipped defaults, peak RSS < 512 MiB "
                           f"(measured {ours_peak / 1024**2:.0f} MiB)", "measured": ours_rate,
                   "met": ours_rate >= TARGET_TASKS_PER_S and ours_peak < RSS_LIMIT},
        "table": table,
    }
