"""The listed rewrite that lets ``podman kube play`` (4.3) run a rendered Deployment.

podman 4.3 ignores some fields and cannot provide others; each entry of ``REWRITES`` says what
is changed and why, and ``rewrite_for_podman`` changes nothing else (tests/kubernetes/test_podman_rewrite.py):

- ``terminationGracePeriodSeconds``: ignored by podman; the test stops the pod with
  ``podman stop -t <that value>`` instead.
- ``readinessProbe`` and ``startupProbe``: ignored by podman; the test requests the probe paths itself.
- ``livenessProbe``: podman would run it as a healthcheck command inside the image (curl is
  not there); the test requests the path itself.
- ``securityContext.seccompProfile`` and ``fsGroup``: not applied by podman 4.3 (its default seccomp profile applies).
- ``secretKeyRef`` env and ``secret`` volumes: the External Secrets sync's job on GKE; here the
  values come from the test, as literal env values and host files at the same mount paths.
- ``hostNetwork: true``: the pod reaches the test's loopback redis-server and the test reaches
  the pod; so ``PORT`` becomes a free port (pods on the host network share one port space)
  and ``ports`` go (podman would map them, which host networking refuses).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

REWRITES = (
    "spec.template.spec.terminationGracePeriodSeconds: removed (podman stop -t drives it)",
    "containers[].readinessProbe, startupProbe, livenessProbe: removed (the test requests the paths)",
    "spec.template.spec.securityContext.seccompProfile, fsGroup: removed (not applied by podman 4.3)",
    "containers[].env[].valueFrom.secretKeyRef: replaced by the test's value (the secret sync's job)",
    "volumes[].secret: replaced by hostPath files with the test's values (the secret sync's job)",
    "spec.template.spec.hostNetwork: true (loopback redis-server, test reaches the pod)",
    "containers[].env PORT: a free port (one port space on the host network); containers[].ports: "
    "removed (podman maps them, which host networking refuses)",
)


def rewrite_for_podman(
    deployment: Mapping[str, Any], secret_values: Mapping[str, str], secret_dir: Any, port: int
) -> dict[str, Any]:
    """A copy of ``deployment`` with exactly the ``REWRITES`` applied."""
    manifest = copy.deepcopy(dict(deployment))
    pod = manifest["spec"]["template"]["spec"]
    pod.pop("terminationGracePeriodSeconds", None)
    pod["securityContext"].pop("seccompProfile", None)
    pod["securityContext"].pop("fsGroup", None)
    pod["hostNetwork"] = True
    for container in pod["containers"]:
        for probe in ("readinessProbe", "startupProbe", "livenessProbe"):
            container.pop(probe, None)
        container.pop("ports", None)
        for variable in container.get("env", []):
            if variable["name"] == "PORT":
                variable["value"] = str(port)
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                del variable["valueFrom"]
                variable["value"] = secret_values[ref["key"]]
    for volume in pod.get("volumes", []):
        secret = volume.pop("secret", None)
        if secret is not None:
            (item,) = secret["items"]
            directory = secret_dir / volume["name"]
            directory.mkdir(parents=True, exist_ok=True)
            (directory / item["path"]).write_text(secret_values[item["key"]])
            directory.chmod(0o755)
            (directory / item["path"]).chmod(0o644)
            volume["hostPath"] = {"path": str(directory), "type": "Directory"}
    return manifest
