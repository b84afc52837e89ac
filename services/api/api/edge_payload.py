"""Task payloads as the API validates them: JSON Schema's types at the edge (``edge_payload_model``)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import ConfigDict, model_validator
from task_contract import TaskSpec
from task_contract.catalog import Payload


class JsonSchemaPayload(Payload):
    """JSON Schema's types at the edge: no ``false`` or ``"3"`` for an integer, but ``3.0`` is one.

    pydantic's lax mode coerces booleans and numeric strings, which the published schema
    does not allow; its strict mode refuses ``3.0``, which JSON Schema's ``integer`` allows.
    """

    model_config = ConfigDict(strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_floats_are_integers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for key, value in data.items():
            if isinstance(value, float) and not math.isfinite(value):
                # Python's JSON parser reads NaN, Infinity and 1e400 (as inf); JSON has no such numbers.
                raise ValueError(
                    f"field {key!r}: {value} is not a finite number (NaN, Infinity and numbers as large as "
                    "1e400 are not JSON numbers); send a finite number"
                )
        fields = cls.model_fields
        return {
            key: int(value)
            if isinstance(value, float) and value.is_integer() and key in fields and fields[key].annotation is int
            else value
            for key, value in data.items()
        }


def edge_payload_model(spec: TaskSpec) -> type[Payload]:
    """The task's payload model with JSON Schema's typing (``JsonSchemaPayload``), under the same name.

    Subclassed here rather than changed in the contract: the worker keeps validating the
    (already JSON-typed) kwargs as it does.
    """
    model: type[Payload] = type(
        spec.payload.__name__,
        (spec.payload, JsonSchemaPayload),
        {"__doc__": spec.payload.__doc__, "__module__": __name__},
    )
    return model
