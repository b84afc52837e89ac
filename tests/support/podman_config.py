"""podman's private configuration: ``containers.conf`` and ``storage.conf`` in the cache dir.

``Podman.env`` points podman at them (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF), so only this
project's podman calls use them (docs/images.md).
"""

from __future__ import annotations

import os
from pathlib import Path


def write_podman_config(cache_dir: Path) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    nofile = _hard_nofile_limit()
    # crun 1.8 fails here ("cgroups in hybrid mode not supported"): use runc. podman's
    # default ulimits exceed what this host allows, so take the host's own hard limit.
    containers_conf = (
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc=4096:4096"]\n'
        "\n[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
    )
    # runroot holds per-boot state, so it lives under /run; graphroot (layers) persists.
    storage_conf = (
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{cache_dir / "storage"}"\n'
        f'runroot = "/run/{cache_dir.name}"\n'
    )
    for name, text in (("containers.conf", containers_conf), ("storage.conf", storage_conf)):
        path = cache_dir / name
        if not path.is_file() or path.read_text() != text:
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(text)
            tmp.replace(path)


def _hard_nofile_limit() -> int:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return hard if hard != resource.RLIM_INFINITY else 1048576
