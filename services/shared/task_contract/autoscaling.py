"""How the autoscaler turns a work ledger's length into an instance count: CREMA's algorithm.

A transcription of CREMA's scaler (GoogleCloudPlatform/cloud-run-external-metrics-autoscaling,
``scaler/src/main/java/com/google/cloud/run/crema/``), for the settings this stack renders
(one trigger per scaled object, ``AverageValue`` targets, ``Pods``/``Percent`` policies with the
default ``Max`` select policy). docs/scaling.md cites each step with file and line:

1. ``TargetAverageValueScaling.makeRecommendation``: ``ceil(signal / target)``.
2. ``Scaler.scale``: the max over the triggers (here, one).
3. ``ScalingStabilizer.getStabilizedRecommendation``: from 0 instances, any positive
   recommendation gives 1 first; otherwise the stabilization windows and rate-limit policies.
4. ``Scaler.getBoundedRecommendation``: clamp to ``[minReplicaCount, maxReplicaCount]``.

No dependencies: the tests, the scaling simulation (benchmarks/) and the docs use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Policy:
    """An HPA scaling policy: at most ``value`` instances (Pods) or percent per ``period_seconds``."""

    kind: Literal["Pods", "Percent"]
    value: int
    period_seconds: int


@dataclass(frozen=True)
class Rules:
    """One direction of ``horizontalPodAutoscalerConfig.behavior`` (select policy ``Max``)."""

    stabilization_seconds: int
    policies: tuple[Policy, ...]


@dataclass(frozen=True)
class Behavior:
    """``None``: that direction is not configured, so CREMA does not bound it at all."""

    scale_up: Rules | None
    scale_down: Rules | None


# Java's Integer.MAX_VALUE: no rate-limit policy bounds scale-up.
NO_UPPER_BOUND = 2**31 - 1


def recommended_instances(signal: float, target: float, current: int) -> int:
    """``TargetAverageValueScaling.makeRecommendation``: instances for ``signal`` at ``target`` each."""
    if target == 0:
        return current
    return math.ceil(signal / target)


def clamp(count: int, minimum: int, maximum: int) -> int:
    return max(minimum, min(maximum, count))


@dataclass
class Stabilizer:
    """``ScalingStabilizer``: the recommendations and scale events one workload has seen.

    CREMA creates it at a workload's first poll, recording the current count as a recommendation.
    """

    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_ups: list[tuple[float, int]] = field(default_factory=list)
    scale_downs: list[tuple[float, int]] = field(default_factory=list)

    @classmethod
    def starting(cls, now: float, current: int) -> Stabilizer:
        return cls(recommendations=[(now, current)])

    def stabilized(self, behavior: Behavior, now: float, current: int, recommended: int) -> int:
        if current == 0 and recommended > 0:
            return 1  # from zero, one instance first (and nothing recorded)
        bounded = recommended
        if recommended > current and behavior.scale_up is not None:
            bounded = min(
                self._window_bound(behavior, now, current, recommended),
                self._rate_bound(behavior.scale_up, now, current, up=True),
                recommended,
            )
        elif recommended < current and behavior.scale_down is not None:
            bounded = max(
                self._window_bound(behavior, now, current, recommended),
                self._rate_bound(behavior.scale_down, now, current, up=False),
                recommended,
            )
        self.recommendations.append((now, recommended))
        return bounded

    def mark(self, behavior: Behavior, now: float, current: int, desired: int) -> None:
        """``markScaleEvent``: remember a change for the rate-limit policies."""
        if desired == current or (behavior.scale_up is None and behavior.scale_down is None):
            return
        events, rules = (
            (self.scale_ups, behavior.scale_up) if desired > current else (self.scale_downs, behavior.scale_down)
        )
        longest = max((p.period_seconds for p in rules.policies), default=0) if rules else 0
        events[:] = [e for e in events if e[0] >= now - longest]
        events.append((now, abs(desired - current)))

    def _window_bound(self, behavior: Behavior, now: float, current: int, recommended: int) -> int:
        up_cutoff = now - (behavior.scale_up.stabilization_seconds if behavior.scale_up else 0)
        down_cutoff = now - (behavior.scale_down.stabilization_seconds if behavior.scale_down else 0)
        min_up = max_down = recommended
        kept = []
        for at, value in self.recommendations:
            if at > now:
                kept.append((at, value))
                continue
            if at > up_cutoff:
                min_up = min(min_up, value)
            if at > down_cutoff:
                max_down = max(max_down, value)
            if not (at < up_cutoff and at < down_cutoff):
                kept.append((at, value))
        self.recommendations = kept
        return min(max(current, min_up), max_down)

    def _rate_bound(self, rules: Rules, now: float, current: int, *, up: bool) -> int:
        if not rules.policies:
            return NO_UPPER_BOUND if up else 0
        bounds = []
        for policy in rules.policies:
            cutoff = now - policy.period_seconds
            added = sum(v for at, v in self.scale_ups if at > cutoff)
            removed = sum(v for at, v in self.scale_downs if at > cutoff)
            start = current - added + removed
            if policy.kind == "Pods":
                bounds.append(start + policy.value if up else start - policy.value)
            elif up:
                bounds.append(math.ceil(start * (1 + policy.value / 100)))
            else:
                bounds.append(math.floor(start * (1 - policy.value / 100)))
        # Select policy Max: the largest change allowed.
        return max(bounds) if up else min(bounds)


def desired_instances(
    signal: float,
    target: float,
    current: int,
    minimum: int,
    maximum: int,
    behavior: Behavior,
    stabilizer: Stabilizer,
    now: float,
) -> int:
    """One CREMA poll (``Scaler.scale``): the instance count it writes for this signal."""
    recommended = recommended_instances(signal, target, current)
    stabilized = stabilizer.stabilized(behavior, now, current, recommended)
    desired = clamp(stabilized, minimum, maximum)
    stabilizer.mark(behavior, now, current, desired)
    return desired
