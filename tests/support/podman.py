"""Build the service images and run them with podman the way Cloud Run runs them.

Everything podman needs on this kind of machine (docs/images.md) is set up here:

- the packages, installed through apt or failing loudly (never a skip);
- a private ``containers.conf`` (runc, ulimits the host accepts) and ``storage.conf`` (overlay in a
  persistent cache dir, so layers are reused across test runs), exported only to our podman calls
  (written by ``podman_config.py``);
- a local Python base image made with debootstrap, because no image registry is reachable; it is
  built once and kept until it is missing or its recipe changes;
- image builds with the host CA bundle mounted for the RUN steps only (it never lands in a layer);
- one build at a time per cache dir (``exclusive()``: pytest-xdist workers, other checkouts), and
  builds answer the image ID, so a test runs the image it built even if another build moves the tag.

A started container is a ``Container`` (``podman_container.py``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.podman_config import write_podman_config
from tests.support.podman_container import Container
from tests.support.system_packages import ensure_commands

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES_DIR = REPO_ROOT / "services"

# Persistent on purpose: image layers and the base image survive between runs (and reboots).
DEFAULT_CACHE_DIR = Path("/var/tmp/cloudrun-celery-podman")
CACHE_DIR_ENV = "CLOUDRUN_CELERY_PODMAN_DIR"

BASE_IMAGE = "localhost/python-base:bookworm"
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
# Bump when the recipe below changes in a way the packages list does not show.
BASE_RECIPE_VERSION = "1"
BASE_RECIPE_LABEL = "cloudrun-celery.base-recipe"

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

# command -> Debian package
PODMAN_COMMANDS = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}

Progress = Callable[[str], None]


def stderr_progress(message: str) -> None:
    print(f"[podman] {message}", file=sys.stderr, flush=True)


class PodmanError(RuntimeError):
    pass


def debian_mirror(sources_dir: Path = Path("/etc/apt/sources.list.d"),
                  sources_list: Path = Path("/etc/apt/sources.list"),
                  suite: str = BASE_SUITE) -> str:
    """The mirror apt already uses for ``suite``, read from the deb822 ``*.sources`` files
    (or the one-line ``sources.list`` format as a fallback). Never hard-coded: the machine decides."""
    for path in sorted(sources_dir.glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if ("deb" in fields.get("types", "").split()
                    and suite in fields.get("suites", "").split() and fields.get("uris")):
                return fields["uris"].split()[0]
    if sources_list.is_file():
        for line in sources_list.read_text().splitlines():
            # deb [options] URI SUITE COMPONENTS...
            parts = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == suite:
                return parts[1]
    raise PodmanError(
        f"no apt source for suite {suite!r} in {sources_dir}/*.sources or {sources_list}; "
        f"debootstrap needs a Debian mirror: add one for {suite} to apt's sources"
    )


@dataclass
class Podman:
    """podman with this project's private configuration; ``setup()`` must run first."""

    cache_dir: Path = field(
        default_factory=lambda: Path(os.environ.get(CACHE_DIR_ENV, str(DEFAULT_CACHE_DIR)))
    )
    progress: Progress = stderr_progress

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CONTAINERS_CONF": str(self.cache_dir / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.cache_dir / "storage.conf"),
        }

    def setup(self) -> Podman:
        """Install podman if needed, write its config, and check that it can run a container."""
        if os.geteuid() != 0:
            raise PodmanError(
                "the container tests run podman as root (rootless needs subuid/subgid setup "
                "this suite does not do); run them as root, e.g. in CI or a VM"
            )
        started = time.monotonic()
        if any(shutil.which(cmd) is None for cmd in PODMAN_COMMANDS):
            self.progress(f"installing {', '.join(sorted(set(PODMAN_COMMANDS.values())))} with apt ...")
        ensure_commands(PODMAN_COMMANDS)
        write_podman_config(self.cache_dir)
        version = self.run("version", "--format", "{{.Client.Version}}").stdout.strip()
        self.progress(f"podman {version} ready in {time.monotonic() - started:.0f}s "
                      f"(storage in {self.cache_dir})")
        return self

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``podman ARGS`` with our config; raises PodmanError with podman's stderr on failure."""
        try:
            result = subprocess.run(
                ["podman", *args], check=False, env=self.env, capture_output=True, text=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise PodmanError(f"podman {' '.join(args)} timed out after {timeout:.0f}s") from exc
        if check and result.returncode != 0:
            raise PodmanError(
                f"podman {' '.join(args)} exited {result.returncode}:\n{result.stderr.strip()[-4000:]}"
            )
        return result

    def _stream(self, args: Sequence[str], what: str, timeout: float,
                stdin: int | None = None) -> None:
        """Run a long command, printing a progress line every ~15 s and the tail of its output on failure."""
        started = time.monotonic()
        with tempfile.TemporaryFile(mode="w+") as log:
            process = subprocess.Popen(list(args), env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=stdin if stdin is not None else subprocess.DEVNULL)
            last_report = started
            while process.poll() is None:
                now = time.monotonic()
                if now - started > timeout:
                    process.kill()
                    process.wait()
                    raise PodmanError(f"{what} timed out after {timeout:.0f}s")
                if now - last_report >= 15:
                    self.progress(f"{what}: {now - started:.0f}s ...")
                    last_report = now
                time.sleep(0.5)
            if process.returncode != 0:
                log.seek(0)
                tail = log.read()[-6000:]
                raise PodmanError(f"{what} failed (exit {process.returncode}):\n{tail}")
        self.progress(f"{what}: done in {time.monotonic() - started:.0f}s")

    # -- images --------------------------------------------------------------------------------

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the cache dir's build lock: concurrent debootstraps or builds of one tag would
        race on the same storage; the second waits, then finds the layers cached."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with open(self.cache_dir / "build.lock", "w") as lock:
            started = time.monotonic()
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.progress(f"waiting for another image build ({self.cache_dir / 'build.lock'}) ...")
                fcntl.flock(lock, fcntl.LOCK_EX)
                self.progress(f"build lock taken after {time.monotonic() - started:.0f}s")
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def image_exists(self, image: str) -> bool:
        return self.run("image", "exists", image, check=False).returncode == 0

    def image_id(self, image: str) -> str:
        return self.run("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()

    def image_label(self, image: str, label: str) -> str | None:
        result = self.run("image", "inspect", "--format", f'{{{{index .Labels "{label}"}}}}', image, check=False)
        value = result.stdout.strip()
        return value if result.returncode == 0 and value not in ("", "<no value>") else None

    def ensure_base_image(self, image: str = BASE_IMAGE) -> str:
        """The local Python base image; built with debootstrap only when absent or outdated."""
        recipe = _base_recipe_digest()
        if self.image_exists(image) and self.image_label(image, BASE_RECIPE_LABEL) == recipe:
            return image
        mirror = debian_mirror()
        self.progress(f"building base image {image} with debootstrap from {mirror} (about 60-90 s) ...")
        work = Path(tempfile.mkdtemp(prefix="base-", dir=self.cache_dir))
        try:
            rootfs = work / "rootfs"
            self._stream(
                ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                 BASE_SUITE, str(rootfs), mirror],
                "debootstrap", timeout=900,
            )
            # Shrink the image: apt lists and caches are of no use inside it.
            for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for child in (rootfs / junk).glob("*"):
                    if child.is_file():
                        child.unlink()
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            try:
                self._stream(
                    ["podman", "import",
                     "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                     "--change", "ENV LANG=C.UTF-8",
                     "--change", 'CMD ["python3"]',
                     "--change", f"LABEL {BASE_RECIPE_LABEL}={recipe}",
                     "-", image],
                    "podman import", timeout=600, stdin=tar.stdout.fileno() if tar.stdout else None,
                )
            finally:
                if tar.stdout:
                    tar.stdout.close()
                if tar.wait() != 0:
                    raise PodmanError(f"tar of the debootstrap rootfs exited {tar.returncode}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return image

    def build(self, dockerfile: Path, tag: str, context: Path = SERVICES_DIR,
              build_args: Mapping[str, str] | None = None, timeout: float = 1200,
              target: str | None = None) -> str:
        """Build ``dockerfile`` in ``context`` and tag it ``tag``; the image ID it built.

        The host CA bundle is mounted for RUN steps only.
        """
        iidfile = self.cache_dir / f"iid.{os.getpid()}"
        args = ["podman", "build", "--network", "host", "--layers", "-f", str(dockerfile), "-t", tag,
                "--iidfile", str(iidfile)]
        if target is not None:
            args += ["--target", target]
        if HOST_CA_BUNDLE.is_file():
            # TLS egress here goes through a local CA; a build-time volume never lands in a layer.
            args += ["-v", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
        for key, value in (build_args or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        self._stream([*args, str(context)], f"build {tag}", timeout=timeout)
        try:
            return iidfile.read_text().strip()
        finally:
            iidfile.unlink(missing_ok=True)

    def prune_stale_images(self, older_than_hours: int = 72) -> None:
        """Drop untagged images left by earlier builds, so the persistent cache dir does not grow forever.

        Only old ones: a recent untagged image may be the layer cache of the next build.
        """
        self.run("image", "prune", "--force", "--filter", f"until={older_than_hours}h", check=False, timeout=300)

    # -- containers ----------------------------------------------------------------------------

    def run_container(self, image: str, name: str, env: Mapping[str, str],
                      extra_args: Sequence[str] = ()) -> Container:
        """Start ``image`` detached, as Cloud Run would: no ``--init``, SIGTERM then SIGKILL on stop.

        Host networking lets the container reach the host's loopback redis-server and the test reach
        the container's ``$PORT``.
        """
        self.run("rm", "--force", "--ignore", name)
        args = ["run", "--detach", "--name", name, "--network", "host"]
        for key, value in env.items():
            args += ["--env", f"{key}={value}"]
        self.run(*args, *extra_args, image)
        return Container(self, name)


def _base_recipe_digest() -> str:
    recipe = f"{BASE_RECIPE_VERSION}|{BASE_SUITE}|{','.join(BASE_PACKAGES)}"
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]
