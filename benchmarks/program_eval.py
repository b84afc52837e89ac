"""(f) The Pulumi program's evaluation time: the prod stack, whole process, under mocks.

Each round starts a fresh ``python`` that runs the real program through ``tests/infra/harness.py``
(Pulumi mocks, no CLI, no cloud) and exits; wall time and the process's user+system CPU are
recorded. Diagnostic rows time, in fresh processes too: the program without ``infra/program_start.py``
(an empty stand-in is registered first, so the process is as it was before: ``pulumi_gcp.compute``'s
whole ``__init__``, CPython's default GC thresholds, no freeze at exit); the interpreter with the
harness imported alone; and ``import pulumi_gcp.compute.network`` alone, which runs the whole
compute ``__init__`` (288 modules) that ``program_start`` defers.
"""

from __future__ import annotations

import resource
import subprocess
import time
from typing import Any

from benchmarks.report import markdown_table, median
from benchmarks.stack import PYTHON, ROOT, base_env

TARGET_SECONDS = 2.0
VARIANTS = {
    "prod program, whole process": "from tests.infra.harness import run_program_full; run_program_full('prod', {})",
    "diag: prod program without program_start.py": (
        "import sys, types; sys.modules['program_start'] = types.ModuleType('program_start'); "
        "from tests.infra.harness import run_program_full; run_program_full('prod', {})"
    ),
    "diag: python + harness import only": "import tests.infra.harness",
    "diag: import pulumi_gcp.compute.network": "import pulumi_gcp.compute.network",
}


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one(code: str) -> dict[str, float]:
    cpu_before, started = _child_cpu(), time.perf_counter()
    subprocess.run([PYTHON, "-W", "ignore", "-c", code], check=True, cwd=ROOT, env=base_env(),
                   stdout=subprocess.DEVNULL, timeout=300)
    return {"wall_s": time.perf_counter() - started, "cpu_s": _child_cpu() - cpu_before}


def run(quick: bool) -> dict[str, Any]:
    rounds = 1 if quick else 5
    names = list(VARIANTS)[:1] if quick else list(VARIANTS)  # the smoke run skips the diagnostics
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for index in range(rounds):
        for name in names[index % len(names):] + names[:index % len(names)]:
            samples[name].append(one(VARIANTS[name]))
    rows = [[name, median([s["wall_s"] for s in runs]), min(s["wall_s"] for s in runs),
             median([s["cpu_s"] for s in runs])] for name, runs in samples.items()]
    measured = median([s["wall_s"] for s in samples[names[0]]])
    return {
        "name": "program-eval",
        "parameters": {"rounds": rounds, "stack": "prod"},
        "samples": samples,
        "table": markdown_table(["what", "median wall (s)", "min wall (s)", "median CPU (s)"], rows),
        "target": {"what": f"prod program evaluates in <= {TARGET_SECONDS:.0f} s whole-process under mocks",
                   "measured": measured, "met": measured <= TARGET_SECONDS},
    }
