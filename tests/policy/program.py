"""The real ``infra/`` program's resources, run through tests/infra/harness.py, fed to the pack.

The harness records what the engine would receive from ``RegisterResource``: inputs with
camelCase keys (secrets unwrapped), ``protect`` and the aggregate dependencies. That is what
``Analyze`` sees; for ``AnalyzeStack`` the mocks echo inputs as outputs, which is what the
stack policy reads from the IAM and service resources.
"""

from __future__ import annotations

import copy

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policy.cloudrun_celery_policy.policies import POLICIES, deletion_protection_policy
from tests.infra.harness import MockedResource
from tests.policy.support import options


@dataclass(frozen=True)
class Violation:
    policy: str
    resource: str
    message: str


def policies_for(stack: str) -> list[Policy]:
    """The pack's policies, with the deletion protection policy told which stack this is."""
    return [
        deletion_protection_policy(stack=lambda: stack)
        if p.name == "prod-deletion-protection"
        else p
        for p in POLICIES
    ]


def run_pack(
    stack: str,
    resources: Sequence[MockedResource],
    config: dict[str, Any] | None = None,
) -> list[Violation]:
    """Every violation the pack reports for these resources, as the engine would drive it."""
    violations: list[Violation] = []
    for policy in policies_for(stack):
        if isinstance(policy, ResourceValidationPolicy):
            for resource in resources:
                args = ResourceValidationArgs(
                    resource_type=resource.type_,
                    props=unknown_checking_proxy(copy.deepcopy(resource.inputs)),
                    urn=resource.urn,
                    name=resource.name,
                    opts=options(resource.protect),
                    provider=None,
                    config=config,
                )
                report = _reporter(violations, policy.name, resource.urn)
                assert policy.validate(args, report) is None
        elif isinstance(policy, StackValidationPolicy):
            args_stack = StackValidationArgs(_stack_resources(resources), config)
            assert (
                policy.validate(
                    args_stack, _reporter(violations, policy.name, "<stack>")
                )
                is None
            )
    return violations


def _reporter(
    violations: list[Violation], policy: str, default_urn: str
) -> ReportViolation:
    def report(message: str, urn: str | None = None) -> None:
        violations.append(Violation(policy, urn or default_urn, message))

    return report


def _stack_resources(resources: Sequence[MockedResource]) -> list[PolicyResource]:
    by_urn = {
        r.urn: PolicyResource(
            resource_type=r.type_,
            props=unknown_checking_proxy(copy.deepcopy(r.inputs)),
            urn=r.urn,
            name=r.name,
            opts=options(r.protect),
            provider=None,
            parent=None,
            dependencies=[],
            # The harness records only the aggregate dependencies, not per property.
            property_dependencies={},
        )
        for r in resources
    }
    for r in resources:
        by_urn[r.urn].dependencies = [by_urn[d] for d in r.depends_on if d in by_urn]
        if r.parent in by_urn:
            by_urn[r.urn].parent = by_urn[r.parent]
    return list(by_urn.values())


def mutated(
    resources: Sequence[MockedResource],
    pick: Callable[[MockedResource], bool],
    change: Callable[[dict[str, Any]], None],
    protect: bool | None = None,
) -> tuple[list[MockedResource], MockedResource]:
    """A copy of ``resources`` where the first resource ``pick`` selects has its inputs changed."""
    target = next(r for r in resources if pick(r))
    inputs = copy.deepcopy(target.inputs)
    change(inputs)
    changed = replace(
        target, inputs=inputs, protect=target.protect if protect is None else protect
    )
    return [changed if r is target else r for r in resources], changed
