"""Queue-depth autoscaling against a fixed pool sized for the peak: a deterministic simulation.

``python -m benchmarks.scaling_simulation`` prints the markdown section of docs/benchmarks.md.

Fixed inputs (issue 9): 10,000 tasks spread evenly over 60 s, then 1 task/s for 59 minutes; tasks
of 1 s of I/O; per-instance throughput from benchmark (c) (``THROUGHPUT_C``, the figure in
docs/benchmarks.md when this ran); 10 s from a scale-up to consuming; CREMA's polling interval and
scale-down behaviour read from the shipped prod stack file. The autoscaled group is an I/O group
like (c)'s worker: concurrency 50, so target 50 per instance, minInstances 0, and prod's
autoscaled pool maximum.

Each second: tasks arrive, each consuming instance completes up to ``THROUGHPUT_C`` tasks
(a fluid model: 1 s tasks), and at every polling interval CREMA's algorithm
(task_contract.autoscaling, a transcription of its scaler) sets the instance count from the
ledger, which holds every unfinished task (waiting or running). An instance is billed from the
moment it is requested; it consumes 10 s later.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from task_contract.autoscaling import Behavior, Policy, Rules, Stabilizer, desired_instances

ROOT = Path(__file__).resolve().parent.parent
THROUGHPUT_C = 48.61  # tasks/s, docs/benchmarks.md (c), "ours", threads concurrency 50
CONCURRENCY = 50
BURST_TASKS, BURST_SECONDS = 10_000, 60
TAIL_RATE, DURATION = 1.0, 3600
STARTUP_SECONDS = 10
SCALE_UP_PERIOD_SECONDS = 15  # infra/autoscaling/spec.py


def arrivals(t: int) -> float:
    return BURST_TASKS / BURST_SECONDS if t < BURST_SECONDS else TAIL_RATE


@dataclass(frozen=True)
class Outcome:
    drain_seconds: int
    instance_minutes: float
    peak_instances: int


def prod_autoscaler() -> tuple[dict[str, Any], int]:
    """The prod stack's ``autoscaler`` section and its autoscaled pool's maxInstances."""
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    autoscaler = config["cloudrun-celery:autoscaler"]
    (pool,) = [w for w in config["cloudrun-celery:workers"] if w.get("kind") == "workerPool"]
    return autoscaler, int(pool["maxInstances"])


def drained_at(backlog: list[float]) -> int:
    """First second after the burst at which the backlog is back to the tail's level (≤ 2 tasks)."""
    return next(t for t in range(BURST_SECONDS, DURATION) if backlog[t] <= 2 * TAIL_RATE)


def fixed_pool(instances: int) -> Outcome:
    backlog, b = [], 0.0
    for t in range(DURATION):
        b += arrivals(t)
        b -= min(b, instances * THROUGHPUT_C)
        backlog.append(b)
    return Outcome(drained_at(backlog), instances * DURATION / 60, instances)


def autoscaled(autoscaler: dict[str, Any], maximum: int, minimum: int = 0) -> Outcome:
    behavior = Behavior(
        scale_up=Rules(0, (Policy("Pods", maximum, SCALE_UP_PERIOD_SECONDS),)),
        scale_down=Rules(
            autoscaler["scaleDownStabilizationSeconds"],
            (Policy("Percent", autoscaler["scaleDownPercent"], autoscaler["scaleDownPeriodSeconds"]),),
        ),
    )
    polling = autoscaler["pollingIntervalSeconds"]
    stabilizer = Stabilizer.starting(0, minimum)
    ready_at: list[int] = [0] * minimum  # when each requested instance starts consuming
    backlog, b, billed_seconds, peak = [], 0.0, 0, minimum
    for t in range(DURATION):
        b += arrivals(t)
        if t % polling == 0:
            current = len(ready_at)
            wanted = desired_instances(b, CONCURRENCY, current, minimum, maximum, behavior, stabilizer, now=t)
            if wanted > current:
                ready_at += [t + STARTUP_SECONDS] * (wanted - current)
            else:
                ready_at = sorted(ready_at)[:wanted]  # Cloud Run stops some; the newest here
            peak = max(peak, wanted)
        consuming = sum(1 for r in ready_at if r <= t)
        b -= min(b, consuming * THROUGHPUT_C)
        backlog.append(b)
        billed_seconds += len(ready_at)
    return Outcome(drained_at(backlog), billed_seconds / 60, peak)


def report() -> tuple[str, Outcome, Outcome]:
    autoscaler, maximum = prod_autoscaler()
    peak_pool = math.ceil((BURST_TASKS / BURST_SECONDS) / THROUGHPUT_C)
    fixed, scaled = fixed_pool(peak_pool), autoscaled(autoscaler, maximum)
    lines = [
        "### Scaling simulation: queue-depth autoscaling vs a fixed pool sized for the peak",
        "",
        f"Inputs: {BURST_TASKS:,} tasks over {BURST_SECONDS} s, then {TAIL_RATE:g} task/s to {DURATION // 60} min; "
        f"1 s I/O tasks; {THROUGHPUT_C} tasks/s per instance (benchmark (c), threads concurrency "
        f"{CONCURRENCY}, target {CONCURRENCY} per instance); {STARTUP_SECONDS} s from scale-up to consuming; "
        f"prod's CREMA settings: polling {autoscaler['pollingIntervalSeconds']} s, scale-down window "
        f"{autoscaler['scaleDownStabilizationSeconds']} s, at most {autoscaler['scaleDownPercent']}% per "
        f"{autoscaler['scaleDownPeriodSeconds']} s; minInstances 0, maxInstances {maximum}.",
        "",
        "| | instances | backlog drained at | instance-minutes (1 h) |",
        "| --- | --- | --- | --- |",
        f"| fixed pool for the peak | {fixed.peak_instances} | {fixed.drain_seconds} s | {fixed.instance_minutes:.1f} |",
        f"| autoscaled (peak) | {scaled.peak_instances} | {scaled.drain_seconds} s | {scaled.instance_minutes:.1f} |",
        "",
        f"Drain: {scaled.drain_seconds / fixed.drain_seconds:.2f}× the fixed pool's time (target ≤ 2×); "
        f"instance-minutes: {scaled.instance_minutes / fixed.instance_minutes:.0%} of it (target ≤ 40%), "
        "not counting CREMA's own always-on instance (1 vCPU, 512 MiB: 60 instance-minutes of a smaller "
        "instance per hour, shared by every autoscaled group).",
    ]
    return "\n".join(lines), fixed, scaled


if __name__ == "__main__":
    text, _, _ = report()
    sys.stdout.write(text + "\n")
