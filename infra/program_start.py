"""Set up the evaluating process before the program imports anything (``__main__`` imports this first).

The language host starts one Python per ``pulumi preview``/``up``, and most of its CPU goes to
importing provider modules and, at exit, freeing them again (docs/benchmarks.md, "(f)"). Three
things cut it:

- ``pulumi_gcp.compute``'s ``__init__`` is deferred, so the program loads the two compute modules
  it uses instead of all 288 (``provider_packages.py``);
- the cyclic garbage collector's young-generation threshold is raised. An evaluation builds about
  235,000 objects that live until the process ends (provider classes and their type hints) and
  little cyclic garbage; at CPython's default of 700 allocations the collector runs about 500
  times and makes four full passes over all of them, 0.25-0.4 s of the process. At 100,000 it
  runs a handful of young collections and no full one; it still collects;
- at exit, ``gc.freeze()`` (registered with ``atexit``, so it runs before the interpreter tears
  its modules down) moves those objects out of the collector's reach: otherwise the shutdown's
  collections free them one by one, about 0.4 s of CPU for memory the OS takes back at once.
  Exit handlers registered before it (logging's flush, Pulumi's) still run.

All are process-wide on purpose: the process exists to evaluate this program once. The test
harness runs the program many times in one process, where the raised threshold makes the runs
faster and keeps about 1 MB more a run (measured over 25 runs).
"""

import atexit
import gc

from provider_packages import defer_init

DEFERRED_PACKAGES = ("pulumi_gcp.compute",)  # the others' __init__ take 0.01-0.1 s each
GC_THRESHOLDS = (100_000, 10, 10)  # young generation raised; the older two at CPython's defaults

gc.set_threshold(*GC_THRESHOLDS)
atexit.unregister(gc.freeze)  # once per process, though the test harness imports this module per run
atexit.register(gc.freeze)
for package in DEFERRED_PACKAGES:
    defer_init(package)
