"""(c) I/O-bound throughput of one worker instance: 1 s ``external_call`` tasks.

Our worker as configured by default against the same worker run as prefork with concurrency 2.
Each round publishes ``waves x concurrency`` tasks at once (a backlog), times until all results
are stored, and samples the resident memory of the worker's whole process tree every 100 ms.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.report import markdown_table, median, ratio
from benchmarks.stack import PeakRss, ScratchDir, private_redis
from benchmarks.workers import VariantSpec, rotated, running_variants

# docs/runtime-contract.md: WORKER_PROCESSES (2) x WORKER_CONCURRENCY (250) for the threads pool.
OURS_DEFAULT_SLOTS = 2 * 250
VARIANTS = (
    (VariantSpec("ours", "ours", "our worker as configured by default (2 processes x 250 threads)"), OURS_DEFAULT_SLOTS),
    (VariantSpec("diag: 1 process x 500 threads", "ours", "one consumer process with as many threads",
                 env=(("WORKER_PROCESSES", "1"), ("WORKER_CONCURRENCY", "500"))), 500),
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
    with private_redis() as server, running_variants(specs, server, scratch) as running:
        for round_index in range(rounds):
            for variant in rotated(running, round_index):
                n = waves * concurrency[variant.spec.name]
                variant.reset_results()
                with PeakRss(variant.process.pid) as rss:
                    start = time.perf_counter()
                    variant.publish("external_call", n, {"latency_seconds": latency})
                    variant.wait_done(n, timeout=waves * latency * 3 + 60)
                    elapsed = time.perf_counter() - start
                samples[variant.spec.name].append(
                    {"tasks": n, "seconds": elapsed, "tasks_per_s": n / elapsed, "peak_rss_bytes": rss.peak})
    base = median([s["tasks_per_s"] for s in samples[BASELINE]])
    summary = []
    for spec in specs:
        rates = [s["tasks_per_s"] for s in samples[spec.name]]
        peak = max(s["peak_rss_bytes"] for s in samples[spec.name])
        summary.append({
            "variant": spec.name, "description": spec.description, "concurrency": concurrency[spec.name],
            "median_tasks_per_s": median(rates), "ideal_tasks_per_s": concurrency[spec.name] / latency,
            "peak_rss_mib": peak / 1024**2, "ratio_vs_prefork_2": ratio(median(rates), base),
        })
    ours_rate = median([s["tasks_per_s"] for s in samples["ours"]])
    ours_peak = max(s["peak_rss_bytes"] for s in samples["ours"])
    table = markdown_table(
        ["variant", "concurrency", "median tasks/s", "ideal tasks/s", "peak RSS (MiB, tree)", f"× {BASELINE}"],
        [[r["variant"], r["concurrency"], r["median_tasks_per_s"], r["ideal_tasks_per_s"], r["peak_rss_mib"],
          r["ratio_vs_prefork_2"]] for r in summary],
    )
    return {
        "name": "io-bound",
        "parameters": {"latency_seconds": latency, "waves": waves, "rounds": rounds, "logs": str(scratch.path)},
        "samples": samples,
        "summary": summary,
        "target": {"what": f">= {TARGET_TASKS_PER_S} tasks/s with the shipped defaults, peak RSS < 512 MiB "
                           f"(measured {ours_peak / 1024**2:.0f} MiB)", "measured": ours_rate,
                   "met": ours_rate >= TARGET_TASKS_PER_S and ours_peak < RSS_LIMIT},
        "table": table,
    }
