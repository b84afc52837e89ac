"""The mocked ``dev`` run of the main program, shared with tests/infra's fixtures."""

from tests.infra.conftest import dev

__all__ = ["dev"]
