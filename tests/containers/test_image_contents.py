"""What the runtime images carry: the app's venv without build tools or bytecode, and its size.

Sizes are measured over the base image (``podman image inspect``); docs/images.md records them.
"""

from __future__ import annotations

import pytest

from tests.support.podman import BASE_IMAGE, Podman

pytestmark = pytest.mark.slow

# The app layer (the venv) over the base image, in MB; the bounds leave a little headroom over
# what docs/images.md records. The API's includes its server speed-ups (uvloop, httptools).
LAYER_BOUNDS_MB = {"api": 60, "worker": 40}
# Only the `celery` command line imports these; the API never runs it (services/api/requirements.txt).
CELERY_CLI_ONLY = ("click_didyoumean", "click_plugins", "click_repl", "prompt_toolkit", "wcwidth")

PROBE = (
    "import importlib.util, pathlib; "
    "print(sorted(m for m in ('pip', 'setuptools', 'wheel') if importlib.util.find_spec(m))); "
    "print(sorted(str(p) for p in pathlib.Path('/opt/venv').rglob('__pycache__'))[:5])"
)


@pytest.mark.parametrize("service", ["api", "worker"])
def test_runtime_venv_has_no_build_tools_or_bytecode(
    podman: Podman, images: dict[str, str], service: str
) -> None:
    result = podman.run(
        "run", "--rm", "--entrypoint", "/opt/venv/bin/python", images[service], "-c", PROBE,
        timeout=120,
    )
    tools, caches = result.stdout.strip().splitlines()
    assert (tools, caches) == ("[]", "[]"), result.stdout


def _size_mb(podman: Podman, image: str) -> float:
    return int(podman.run("image", "inspect", "--format", "{{.Size}}", image).stdout.strip()) / 1e6


@pytest.mark.parametrize("service", ["api", "worker"])
def test_app_layer_size(podman: Podman, images: dict[str, str], service: str) -> None:
    base = podman.ensure_base_image(BASE_IMAGE)
    layer = _size_mb(podman, images[service]) - _size_mb(podman, base)
    print(f"{service}: app layer {layer:.1f} MB over the base")
    assert layer <= LAYER_BOUNDS_MB[service], f"{service} app layer is {layer:.1f} MB"


def test_api_image_has_its_server_speedups_and_no_celery_cli_dependencies(
    podman: Podman, images: dict[str, str]
) -> None:
    probe = (
        "import importlib.util; "
        f"print(sorted(m for m in {CELERY_CLI_ONLY!r} if importlib.util.find_spec(m))); "
        "print(sorted(m for m in ('uvloop', 'httptools') if importlib.util.find_spec(m)))"
    )
    result = podman.run(
        "run", "--rm", "--entrypoint", "/opt/venv/bin/python", images["api"], "-c", probe, timeout=120
    )
    cli, speedups = result.stdout.strip().splitlines()
    assert (cli, speedups) == ("[]", "['httptools', 'uvloop']"), result.stdout
