"""The API's traffic block: a new revision starts tagged and without traffic, and is promoted by config.

``api.rollout.servingRevision`` names the revision that serves all traffic. The newest revision
(whatever ``pulumi up`` just created) always carries the tag ``api.rollout.candidateTag`` and so
has its own URL, ``https://<tag>---<service host>``, where it is verified before any user
reaches it. Promotion and rollback are the same operation: ``pulumi up`` with another
``servingRevision``, so Pulumi stays the source of truth for traffic (docs/delivery.md).
Without ``servingRevision`` (the first deploy, or an operator's manual ``up``) the newest revision
serves, as Cloud Run does by default.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

LATEST = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"


def traffic(
    serving_revision: str | None, candidate_tag: str
) -> list[gcp.cloudrunv2.ServiceTrafficArgsDict]:
    if serving_revision is None:
        return [{"type": LATEST, "percent": 100, "tag": candidate_tag}]
    return [
        {"type": REVISION, "revision": serving_revision, "percent": 100},
        {"type": LATEST, "percent": 0, "tag": candidate_tag},
    ]


def tag_url(service_uri: pulumi.Input[str], tag: str) -> pulumi.Output[str]:
    """Cloud Run's URL of a tagged revision: the tag and ``---`` in front of the service's host."""
    return pulumi.Output.from_input(service_uri).apply(
        lambda uri: uri.replace("https://", f"https://{tag}---", 1)
    )


def serving_revision_output(
    service: gcp.cloudrunv2.Service, serving_revision: str | None
) -> pulumi.Output[str]:
    """The revision that serves all traffic after this update: the configured one, or the newest."""
    if serving_revision is None:
        return service.latest_created_revision
    return pulumi.Output.from_input(serving_revision)
