"""The program imports only the provider modules it uses, and its process spends little on the GC.

Each test runs a fresh interpreter: in the pytest process other tests have loaded whole provider
packages already. Not timed: they check what the time went to (docs/benchmarks.md, "(f)").
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

from tests.infra.harness import PROGRAM_DIR, PROJECT_ROOT


def run_fresh(code: str) -> Any:
    """Run ``code`` in a new interpreter from the project root; it prints one JSON document."""
    completed = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", textwrap.dedent(code)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


PROD_RUN = """
    import gc, json, sys
    from tests.infra.harness import run_program_full
    full_collections = []
    gc.callbacks.append(lambda phase, info: info["generation"] == 2 and phase == "stop" and full_collections.append(1))
    run = run_program_full("prod")
    compute = sys.modules["pulumi_gcp.compute"]
    print(json.dumps({
        "resources": len(run.resources),
        "compute_modules": sorted(m for m in sys.modules if m.startswith("pulumi_gcp.compute.")),
        "compute_init_ran": type(compute) is type(sys),
        "kubernetes": sorted(m for m in sys.modules if m.startswith("pulumi_kubernetes")),
        "full_collections": len(full_collections),
        "types": sorted({r.type_ for r in run.resources if r.type_.startswith("gcp:compute/")}),
    }))
"""


def test_prod_program_loads_two_compute_modules_and_no_kubernetes() -> None:
    loaded = run_fresh(PROD_RUN)
    assert loaded["resources"] > 50
    # Not compute/__init__.py's 288 modules (instance, firewall, ...): the two used and what they import.
    assert loaded["compute_modules"] == [
        "pulumi_gcp.compute._inputs",
        "pulumi_gcp.compute.network",
        "pulumi_gcp.compute.outputs",
        "pulumi_gcp.compute.subnetwork",
    ]
    assert loaded["compute_init_ran"] is False
    assert loaded["types"] == ["gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork"]
    # Cloud Run target: the Kubernetes provider is imported only by the gke branch.
    assert loaded["kubernetes"] == []
    # CPython's default thresholds make four full passes over the provider classes here.
    assert loaded["full_collections"] == 0


def test_deferred_package_gives_what_a_full_import_gives_once_used() -> None:
    # Defer as the program does, load one module, then use the package as pulumi_gcp and users do.
    checked = run_fresh(f"""
        import importlib, json, sys, types
        sys.path.insert(0, {str(PROGRAM_DIR)!r})
        import program_start
        import pulumi_gcp
        from pulumi_gcp.compute.network import Network
        compute = sys.modules["pulumi_gcp.compute"]
        before = {{"deferred": type(compute) is not types.ModuleType, "same": pulumi_gcp.compute is compute,
                   "outputs_module": isinstance(compute.outputs, types.ModuleType),
                   "loaded": len([m for m in sys.modules if m.startswith("pulumi_gcp.compute.")])}}
        # Threads that touch it at once all wait for the one __init__ run, as on an import's lock.
        import threading
        routers = []
        threads = [threading.Thread(target=lambda: routers.append(compute.Router)) for _ in range(4)]
        for thread in threads: thread.start()
        for thread in threads: thread.join()
        # pulumi_gcp's resource-module registry resolves a type token this way (_utilities.Module.construct).
        instance_class = getattr(pulumi_gcp._utilities.lazy_import("pulumi_gcp.compute"), "Instance")
        from pulumi_gcp.compute import Firewall, get_network
        from pulumi_gcp.compute import *  # noqa: F403
        print(json.dumps({{
            "before": before,
            "init_ran": type(compute) is types.ModuleType,
            "routers": sorted({{r.__module__ for r in routers}}) + [len(routers)],
            "network_class_kept": compute.Network is Network,
            "instance_module": instance_class.__module__,
            "firewall_module": Firewall.__module__,
            "get_network_is_function": callable(get_network) and not isinstance(get_network, types.ModuleType),
            "star_import_has_router": "Router" in dir(),
            "loaded": len([m for m in sys.modules if m.startswith("pulumi_gcp.compute.")]),
            # The harness imports program_start again for every run: a package that ran stays as it is.
            "kept_on_second_start": (importlib.reload(program_start) and sys.modules["pulumi_gcp.compute"] is compute
                                     and type(compute) is types.ModuleType),
        }}))
    """)
    assert checked["before"] == {"deferred": True, "same": True, "outputs_module": True, "loaded": 3}
    assert checked["init_ran"] is True
    assert checked["routers"] == ["pulumi_gcp.compute.router", 4]
    assert checked["network_class_kept"] is True
    assert checked["instance_module"] == "pulumi_gcp.compute.instance"
    assert checked["firewall_module"] == "pulumi_gcp.compute.firewall"
    # compute/get_network.py exports the function get_network: the package's name is the function.
    assert checked["get_network_is_function"] is True
    assert checked["star_import_has_router"] is True
    assert checked["loaded"] > 280
    assert checked["kept_on_second_start"] is True


def test_objects_are_frozen_before_the_interpreter_tears_down() -> None:
    # An exit handler registered before the program runs after program_start's gc.freeze (LIFO).
    frozen = run_fresh("""
        import atexit, gc, json
        atexit.register(lambda: print(json.dumps({"frozen": gc.get_freeze_count()}), flush=True))
        from tests.infra.harness import run_program_full
        run_program_full("dev")
        print(json.dumps({"frozen": gc.get_freeze_count()}))
    """)
    assert frozen["frozen"] > 100_000
