"""Provider packages whose ``__init__`` imports every resource they have, loaded one module at a time.

pulumi-gcp 10.2.0's ``pulumi_gcp/compute/__init__.py`` imports all 288 compute resource modules: about
0.6 s of CPU on top of the two this program uses (``Network``, ``Subnetwork``), a fifth of the whole
evaluation (docs/benchmarks.md, "(f)"). Python always runs a package's ``__init__`` before a submodule
can be imported from it, so no import line avoids that by itself.

``defer_init("pulumi_gcp.compute")`` (``program_start.py`` calls it) registers the package in
``sys.modules`` as a module carrying its real ``__spec__`` and ``__path__`` whose ``__init__`` has not
run yet. Then ``from pulumi_gcp.compute.network import Network`` loads ``network.py`` and what it
imports itself (``_inputs``, ``outputs``), nothing else. The first use of any other attribute of the
package runs the real ``__init__`` into that same module object, so everything a full import would
give is still there, only later: resource type tokens, ``pulumi_gcp.compute`` as an attribute of
``pulumi_gcp``, and the provider's resource-module registry (which looks classes up by name on the
package) are unchanged. ``tests/infra/test_program_start.py`` checks both halves.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import threading
import types

_init_lock = threading.RLock()
_running: set[str] = set()  # packages whose __init__ this process is running now


class _PackageBeforeInit(types.ModuleType):
    """A package whose ``__init__`` runs at the first attribute its loaded submodules do not provide."""

    def __getattr__(self, name: str) -> object:
        # Only reached for names not in the module's __dict__ (PEP 562 semantics for a module type).
        submodule = self._submodule(name)
        if submodule is not None:
            return submodule
        _run_init(self)
        return types.ModuleType.__getattribute__(self, name)

    def __dir__(self) -> list[str]:
        _run_init(self)
        return list(self.__dict__)

    def _submodule(self, name: str) -> types.ModuleType | None:
        """``name``'s submodule when, after the full ``__init__``, the package's ``name`` would be it.

        ``from . import outputs`` in a resource module asks the package for ``outputs``: loading
        just that module keeps the deferral. A generated ``get_x.py`` also exports a function
        ``get_x``, which the full ``__init__`` binds over the module, so that name runs it.
        """
        if name.startswith("__"):
            return None
        fullname = f"{self.__name__}.{name}"
        if fullname not in sys.modules and (
            importlib.machinery.PathFinder.find_spec(fullname, list(self.__path__)) is None
        ):
            return None
        submodule = importlib.import_module(fullname)
        if name in getattr(submodule, "__all__", ()):
            return None
        return submodule


def _run_init(module: types.ModuleType) -> None:
    # Other threads wait here until the __init__ has run, as they would on an import's module lock.
    with _init_lock:
        if not isinstance(module, _PackageBeforeInit) or module.__name__ in _running:
            return  # it ran; or it is running in this thread: a partly run module, as during any import
        spec = module.__spec__
        assert spec is not None and spec.loader is not None  # set by defer_init
        _running.add(module.__name__)
        try:
            spec.loader.exec_module(module)
        finally:
            _running.discard(module.__name__)
        plain: types.ModuleType = module
        plain.__class__ = types.ModuleType  # from now on an ordinary module


def defer_init(package: str) -> None:
    """Register ``package`` (``"parent.child"``) so that its ``__init__`` runs at first use, not at import.

    Call it before anything imports from the package. A package that has already run is left
    alone (in a test process the program runs many times); so is one deferred already.
    """
    parent_name, _, child = package.rpartition(".")
    parent = importlib.import_module(parent_name)
    current = sys.modules.get(package)
    # pulumi_gcp binds each subpackage to a lazy placeholder (a ``_LazyModule``, Python's or
    # Pulumi's copy) that runs the whole __init__ at first touch; ``type()`` does not touch it.
    if current is not None and type(current).__name__ != "_LazyModule":
        return
    spec = importlib.machinery.PathFinder.find_spec(package, list(parent.__path__))
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(
            f"{package} is not an installed package, so the provider's layout changed: check the version "
            "requirements.txt pins, or drop the package from program_start.DEFERRED_PACKAGES"
        )
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _PackageBeforeInit
    sys.modules[package] = module
    setattr(parent, child, module)
