"""CREMA's scaled object and KEDA's ScaledObject are one rendering of one spec."""

from __future__ import annotations

from tests.autoscaling.renderers import crema, group_spec, keda

# Fields only one of the two reads: what is scaled, and KEDA's per-object timing (CREMA has one
# polling interval per service and ignores cooldownPeriod).
OWN_FIELDS = {"scaleTargetRef", "pollingInterval", "cooldownPeriod"}


def test_keda_reads_what_crema_reads() -> None:
    spec = group_spec("low", target=4, min_instances=0, max_instances=8)
    on_cloud_run, on_gke = crema(spec), keda(spec)
    assert {k: v for k, v in on_gke.items() if k not in OWN_FIELDS} == {
        k: v for k, v in on_cloud_run.items() if k not in OWN_FIELDS
    }
    (trigger,) = on_gke["triggers"]
    assert trigger["metadata"]["listName"] == "cloudrun-celery:work:low" and trigger["metadata"]["listLength"] == "4"
    assert (on_gke["minReplicaCount"], on_gke["maxReplicaCount"], on_gke["pollingInterval"]) == (0, 8, 15)
    # The last step to zero waits the same quiet window as every other step down.
    behavior = on_gke["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert on_gke["cooldownPeriod"] == behavior["scaleDown"]["stabilizationWindowSeconds"] == 120
