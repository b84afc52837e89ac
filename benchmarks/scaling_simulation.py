"""Queue-depth autoscaling against a fixed pool sized for the peak: a deterministic simulation.

``python -m benchmarks.scaling_simulation`` prints the markdown section of docs/benchmarks.md.

Fixed inputs (issue 9): 10,000 tasks spread evenly over 60 s, then 1 task/s for 59 minutes; tasks
of 1 s of I/O; per-instance throughput from benchmark (c): the ``ours`` median of the newest full
run in ``benchmarks/results/*-io-bound.json``; 10 s from a scale-up to consuming; CREMA's polling
interval and scale-down behaviour read from the shipped prod stack file. The autoscaled group is
an I/O group like (c)'s worker, as prod ships its threads group: target per instance = its slots
(worker processes x prod's threads-group concurrency), minInstances 0, and prod's autoscaled pool
maximum.

Each second: tasks arrive, each consuming instance completes up to its throughput
(a fluid model: 1 s tasks), and at every polling interval CREMA's algorithm
(task_contract.autoscaling, a transcription of its scaler) sets the instance count from the
ledger, which holds every unfinished task (waiting or running). An instance is billed from the
moment it is requested; it consumes 10 s later.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from task_contract.autoscaling import Behavior, Policy, Rules, Stabilizer, desired_instances

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
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


def measured_throughput() -> tuple[float, str]:
    """Benchmark (c)'s ``ours`` median tasks/s from the newest full io-bound run, and that file's name."""
    runs = sorted(p for p in RESULTS.glob("*-io-bound.json") if not json.loads(p.read_text()).get("quick"))
    if not runs:
        raise SystemExit(f"no full io-bound run in {RESULTS}: run python -m benchmarks io-bound first")
    summary = json.loads(runs[-1].read_text())["summary"]
    (ours,) = [row for row in summary if row["variant"] == "ours"]
    return float(ours["median_tasks_per_s"]), runs[-1].name


def prod_autoscaler() -> tuple[dict[str, Any], int]:
    """The prod stack's ``autoscaler`` section and its autoscaled pool's maxInstances."""
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    autoscaler = config["cloudrun-celery:autoscaler"]
    (pool,) = [w for w in config["cloudrun-celery:workers"] if w.get("kind") == "workerPool"]
    return autoscaler, int(pool["maxInstances"])


def prod_io_slots() -> int:
    """Task slots of one instance of prod's threads group: worker processes x threads per process."""
    from worker.config import DEFAULT_PROCESSES

    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    (group,) = [w for w in config["cloudrun-celery:workers"] if w.get("pool", "threads") == "threads"]
    return DEFAULT_PROCESSES * int(group["concurrency"])


def drained_at(backlog: list[float]) -> int:
    """First second after the burst at which the backlog is back to the tail's level (≤ 2 tasks)."""
    return next(t for t in range(BURST_SECONDS, DURATION) if backlog[t] <= 2 * TAIL_RATE)


def fixed_pool(instances: int, throughput: float) -> Outcome:
    backlog, b = [], 0.0
    for t in range(DURATION):
        b += arrivals(t)
        b -= min(b, instances * throughput)
        backlog.append(b)
    return Outcome(drained_at(backlog), instances * DURATION / 60, instances)


def autoscaled(autoscaler: dict[str, Any], maximum: int, throughput: float, target: int,
               minimum: int = 0) -> Outcome:
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
            wanted = desired_instances(b, target, current, minimum, maximum, behavior, stabilizer, now=t)
            if wanted > current:
                ready_at += [t + STARTUP_SECONDS] * (wanted - current)
            else:
                ready_at = sorted(ready_at)[:wanted]  # Cloud Run stops some; the newest here
            peak = max(peak, wanted)
        consuming = sum(1 for r in ready_at if r <= t)
        b -= min(b, consuming * throughput)
        backlog.append(b)
        billed_seconds += len(ready_at)
    return Outcome(drained_at(backlog), billed_seconds / 60, peak)


def compare(throughput: float, target: int) -> tuple[Outcome, Outcome]:
    """A fixed pool sized for the peak and the autoscaled group, both at ``throughput`` per instance."""
    autoscaler, maximum = prod_autoscaler()
    peak_pool = math.ceil((BURST_TASKS / BURST_SECONDS) / throughput)
    return fixed_pool(peak_pool, throughput), autoscaled(autoscaler, maximum, throughput, target)


def report(throughput: float | None = None, target: int | None = None) -> tuple[str, Outcome, Outcome]:
    autoscaler, maximum = prod_autoscaler()
    source = "given"
    if throughput is None:
        throughput, source = measured_throughput()
    target = target or prod_io_slots()
    fixed, scaled = compare(throughput, target)
    drain_met = scaled.drain_seconds <= 2 * fixed.drain_seconds
    minutes_met = scaled.instance_minutes <= 0.4 * fixed.instance_minutes
    lines = [
        "### Scaling simulation: queue-depth autoscaling vs a fixed pool sized for the peak",
        "",
        f"Inputs: {BURST_TASKS:,} tasks over {BURST_SECONDS} s, then {TAIL_RATE:g} task/s to {DURATION // 60} min; "
        f"1 s I/O tasks; {throughput:.1f} tasks/s per instance (benchmark (c), `ours` median in "
        f"`benchmarks/results/{source}`), target {target} per instance (its slots); "
        f"{STARTUP_SECONDS} s from scale-up to consuming; "
        f"prod's CREMA settings: polling {autoscaler['pollingIntervalSeconds']} s, scale-down window "
        f"{autoscaler['scaleDownStabilizationSeconds']} s, at most {autoscaler['scaleDownPercent']}% per "
        f"{autoscaler['scaleDownPeriodSeconds']} s; minInstances 0, maxInstances {maximum}.",
        "",
        "| | instances | backlog drained at | instance-minutes (1 h) |",
        "| --- | --- | --- | --- |",
        f"| fixed pool for the peak | {fixed.peak_instances} | {fixed.drain_seconds} s | {fixed.instance_minutes:.1f} |",
        f"| autoscaled (peak) | {scaled.peak_instances} | {scaled.drain_seconds} s | {scaled.instance_minutes:.1f} |",
        "",
        f"Drain: {scaled.drain_seconds / fixed.drain_seconds:.2f}× the fixed pool's time (target ≤ 2×: "
        f"{'met' if drain_met else 'missed'}); instance-minutes: "
        f"{scaled.instance_minutes / fixed.instance_minutes:.0%} of it (target ≤ 40%: "
        f"{'met' if minutes_met else 'missed'}), "
        "not counting CREMA's own always-on instance (1 vCPU, 512 MiB: 60 instance-minutes of a smaller "
        "instance per hour, shared by every autoscaled group).",
    ]
    return "\n".join(lines), fixed, scaled


if __name__ == "__main__":
    text, _, _ = report()
    sys.stdout.write(text + "\n")
