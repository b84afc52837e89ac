"""(b) End-to-end throughput of a no-op task (``add``): publish N, time until all are done.

"Done" is: no message queued or unacked and, for variants that store results, N results in the
result database. The publisher is one Celery producer in this process, on the same machine (as
described in docs/benchmarks.md). Variants run side by side on one Redis and are measured in rotation.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.report import markdown_table, median, ratio
from benchmarks.stack import ScratchDir, private_redis, tree_cpu_seconds
from benchmarks.workers import RunningVariant, VariantSpec, rotated, running_variants

WARNING = (("LOG_LEVEL", "WARNING"),)
ONE_PROCESS = (("WORKER_PROCESSES", "1"), ("WORKER_CONCURRENCY", "50"))
# "ours" is the shipped worker; the "diag:" rows change one thing at a time to show where its cost
# is (set through benchmarks/fixtures/worker_variant.py, never shipped as they are). The rows with
# Celery overrides run one process: the fixture changes settings in the process it starts.
VARIANTS = (
    VariantSpec("ours", "ours", "our worker, default settings (2 processes x 250 threads, LOG_LEVEL=INFO)"),
    VariantSpec("diag: ours, 1 process x 50 threads", "ours", "the previous default shape", env=ONE_PROCESS),
    VariantSpec("diag: ours, LOG_LEVEL=WARNING", "ours", "default settings without per-task log lines", env=WARNING),
    VariantSpec("diag: ours, 1 process, WARNING, prefork 2", "ours",
                "WORKER_POOL=prefork WORKER_CONCURRENCY=2, no per-task log lines", env=WARNING,
                pool="prefork", concurrency=2),
    VariantSpec("diag: ours, 1 process, WARNING, results ignored", "ours",
                "task_ignore_result=True: the safety settings alone", env=(*WARNING, *ONE_PROCESS),
                stores_results=False, overrides=(("task_ignore_result", True),)),
    VariantSpec("celery-defaults", "defaults", "Celery app with only the broker set: prefork c=2, no results",
                stores_results=False),
    VariantSpec("celery-defaults+results", "defaults", "the same plus the same Redis result backend"),
    VariantSpec("seed-000", "seed000", "prefork c=2, gzip task+result, results stored, child recycled every 100",
                pool="prefork", concurrency=2),
)
# Flower's price: task events and heartbeats, as on a group in flower.watchGroups (docs/schedules.md).
# ``python -m benchmarks end-to-end-events`` runs it against "ours" and the baselines, in one rotation.
EVENTS_VARIANT = VariantSpec("ours, WORKER_EVENTS=true", "ours",
                             "default settings with task events and heartbeats (Flower)",
                             env=(("WORKER_EVENTS", "true"),))
BASELINE = "celery-defaults"
RESULTS_BASELINE = "celery-defaults+results"


def measure_once(variant: RunningVariant, n: int) -> dict[str, float]:
    variant.reset_results()
    cpu_before = tree_cpu_seconds(variant.process.pid)
    start = time.perf_counter()
    variant.publish("add", n, {"x": 2, "y": 3})
    published = time.perf_counter() - start
    variant.wait_done(n, timeout=max(60.0, n / 50))
    elapsed = time.perf_counter() - start
    worker_cpu = tree_cpu_seconds(variant.process.pid) - cpu_before
    return {"tasks_per_s": n / elapsed, "seconds": elapsed, "publish_seconds": published,
            "worker_cpu_ms_per_task": worker_cpu * 1000 / n}


def run_events(quick: bool) -> dict[str, Any]:
    """(b) with task events on vs off: "ours", "ours, WORKER_EVENTS=true" and both baselines."""
    ours = tuple(v for v in VARIANTS if v.name in ("ours", BASELINE, RESULTS_BASELINE))
    return {**run(quick, (ours[0], EVENTS_VARIANT, *ours[1:])), "name": "end-to-end-events"}


def run(quick: bool, variants: tuple[VariantSpec, ...] = VARIANTS) -> dict[str, Any]:
    n, rounds = (300, 1) if quick else (3000, 5)
    in_quick = ("ours", "diag: ours, 1 process, WARNING, results ignored", BASELINE, RESULTS_BASELINE, "seed-000",
                EVENTS_VARIANT.name)
    specs = variants if not quick else tuple(v for v in variants if v.name in in_quick)
    samples: dict[str, list[dict[str, float]]] = {spec.name: [] for spec in specs}
    scratch = ScratchDir()
    with private_redis() as server, running_variants(specs, server, scratch) as running:
        for round_index in range(rounds):
            for variant in rotated(running, round_index):
                samples[variant.spec.name].append(measure_once(variant, n))
    base = median([s["tasks_per_s"] for s in samples[BASELINE]])
    with_results = RESULTS_BASELINE in samples
    base_results = median([s["tasks_per_s"] for s in samples[RESULTS_BASELINE]]) if with_results else float("nan")
    summary = []
    for spec in specs:
        rates = [s["tasks_per_s"] for s in samples[spec.name]]
        summary.append({
            "variant": spec.name, "description": spec.description,
            "median_tasks_per_s": median(rates), "min": min(rates), "max": max(rates),
            "ratio_vs_defaults": ratio(median(rates), base),
            "ratio_vs_defaults_with_results": ratio(median(rates), base_results),
            "median_worker_cpu_ms_per_task": median([s["worker_cpu_ms_per_task"] for s in samples[spec.name]]),
        })
    ours = median([s["tasks_per_s"] for s in samples["ours"]])
    ours_ratio = ratio(ours, base_results) if with_results else float("nan")
    table = markdown_table(
        ["variant", "median tasks/s", "min", "max", f"× {BASELINE}", f"× {RESULTS_BASELINE}",
         "worker CPU ms/task", "what"],
        [[r["variant"], r["median_tasks_per_s"], r["min"], r["max"], r["ratio_vs_defaults"],
          r["ratio_vs_defaults_with_results"], r["median_worker_cpu_ms_per_task"], r["description"]]
         for r in summary],
    )
    return {
        "name": "end-to-end",
        "parameters": {"tasks_per_round": n, "rounds": rounds, "task": "add", "logs": str(scratch.path)},
        "samples": samples,
        "summary": summary,
        "target": {"what": f"ours >= 1.0x {RESULTS_BASELINE} (stretch: >= 0.9x {BASELINE}, "
                           f"measured {ratio(ours, base):.2f})", "measured": ours_ratio, "met": ours_ratio >= 1.0},
        "table": table,
    }
