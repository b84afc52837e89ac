"""Entry point the Pulumi CLI runs for ``pulumi preview --policy-pack policy``.

It only builds the pack: ``PolicyPack`` starts the analyzer's gRPC server and blocks, so the
policies live in ``cloudrun_celery_policy`` where tests can import them.
"""

from cloudrun_celery_policy import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="cloudrun-celery-security",
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
)
