"""cloudrun-celery's security policies for Pulumi CrossGuard (pulumi-policy).

Import ``POLICIES`` to build a pack; import the individual policies or ``rules`` to test them.
"""

from .policies import POLICIES

__all__ = ["POLICIES"]
