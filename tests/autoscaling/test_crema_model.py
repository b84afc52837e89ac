"""task_contract.autoscaling reproduces CREMA's scaler: its own unit tests, ported case for case.

Source: GoogleCloudPlatform/cloud-run-external-metrics-autoscaling,
``scaler/src/test/java/com/google/cloud/run/crema/ScalingStabilizerTest.java`` and
``TargetAverageValueScalingTest.java``. Java's ``new ScalingStabilizer(100)`` records 100 at
``Instant.now()``, a moment before the test's ``now``: here ``Stabilizer.starting(-0.001, 100)``.
"""

from __future__ import annotations

import pytest
from task_contract.autoscaling import (
    Behavior,
    Policy,
    Rules,
    Stabilizer,
    desired_instances,
    recommended_instances,
)


def stabilizer() -> Stabilizer:
    return Stabilizer.starting(-0.001, 100)


@pytest.mark.parametrize(
    ("signal", "target", "current", "expected"),
    [(0, 5, 3, 0), (1, 5, 0, 1), (5, 5, 0, 1), (6, 5, 0, 2), (10_000, 50, 1, 200), (7, 0, 4, 4)],
)
def test_recommendation_is_ceil_of_signal_over_target(signal: int, target: int, current: int, expected: int) -> None:
    assert recommended_instances(signal, target, current) == expected


def test_scale_up_stabilization_only() -> None:
    behavior = Behavior(scale_up=Rules(300, ()), scale_down=None)
    s = stabilizer()
    assert [s.stabilized(behavior, t, 100, 110) for t in (60, 120, 180, 240, 301)] == [100, 100, 100, 100, 110]


def test_scale_down_stabilization_only() -> None:
    behavior = Behavior(scale_up=None, scale_down=Rules(300, ()))
    s = stabilizer()
    assert [s.stabilized(behavior, t, 100, 90) for t in (60, 120, 180, 240, 301)] == [100, 100, 100, 100, 90]


def test_scale_down_percent_policy() -> None:
    behavior = Behavior(scale_up=None, scale_down=Rules(0, (Policy("Percent", 50, 60),)))
    s = stabilizer()
    assert s.stabilized(behavior, 0, 100, 10) == 50
    s.mark(behavior, 0, 100, 50)
    assert s.stabilized(behavior, 59, 50, 10) == 50
    assert s.stabilized(behavior, 60, 50, 10) == 25
    s.mark(behavior, 60, 50, 25)
    assert s.stabilized(behavior, 140, 25, 0) == 12


def test_scale_down_instances_policy() -> None:
    behavior = Behavior(scale_up=None, scale_down=Rules(0, (Policy("Pods", 1, 60),)))
    s = stabilizer()
    assert s.stabilized(behavior, 0, 100, 90) == 99
    s.mark(behavior, 0, 100, 99)
    assert s.stabilized(behavior, 59, 99, 90) == 99
    assert s.stabilized(behavior, 60, 99, 90) == 98


def test_from_zero_crema_starts_one_instance_then_the_rest() -> None:
    # ScalingStabilizer.getStabilizedRecommendation: current 0 and a positive recommendation give 1.
    behavior = Behavior(Rules(0, (Policy("Pods", 10, 15),)), Rules(120, (Policy("Percent", 50, 60),)))
    s = Stabilizer.starting(0, 0)
    assert desired_instances(40, 4, 0, 0, 10, behavior, s, now=15) == 1
    assert desired_instances(40, 4, 1, 0, 10, behavior, s, now=30) == 10
    assert desired_instances(400, 4, 10, 0, 10, behavior, s, now=45) == 10  # clamped to max
    # The queue empties: nothing for the 120 s window, then at most half per minute.
    counts = [desired_instances(0, 4, c, 0, 10, behavior, s, now=t) for c, t in ((10, 60), (10, 150))]
    assert counts == [10, 10]
    assert desired_instances(0, 4, 10, 0, 10, behavior, s, now=170) == 5
