"""Pydantic validation errors turned into one line that says where and what: `alerts[0].labels: expected an object`."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from streams.ingest.errors import IngestError
from streams.ingest.json_input import json_type

Model = TypeVar("Model", bound=BaseModel)

_EXPECTED = {
    "dict_type": "expected an object",
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
    "list_type": "expected an array",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "bool_type": "expected a boolean",
    "float_type": "expected a number",
    "missing": "missing",
}


def _where(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _what(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind in _EXPECTED:
        what = _EXPECTED[kind]
        if kind != "missing":
            what += f", got {json_type(error.get('input'))}"
        return what
    if kind == "literal_error":
        return f"expected {error['ctx']['expected']}"
    if kind == "too_short" and json_type(error.get("input")) == "array":
        return f"expected at least {error['ctx']['min_length']} item(s)"
    message = str(error["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def describe(exc: ValidationError, prefix: str = "") -> str:
    """The first (at most three) errors as `path: what`, joined with '; '."""
    parts = []
    for error in exc.errors(include_url=False)[:3]:
        where = _where(tuple(error["loc"]))
        if prefix:
            where = f"{prefix}.{where}" if where and not where.startswith("[") else f"{prefix}{where}"
        parts.append(f"{where}: {_what(error)}" if where else _what(error))
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def validate(model: type[Model], value: Any, prefix: str = "") -> Model:
    """`model.model_validate(value)`, or IngestError saying where and what is wrong."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise IngestError(describe(exc, prefix)) from None


def build(model: type[Model], prefix: str = "", **fields: Any) -> Model:
    """Construct a canonical record, or IngestError saying which field broke its contract."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise IngestError(describe(exc, prefix)) from None
