"""Helpers for the rule-based tests over mapped resources."""

from collections.abc import Iterator
from typing import Any


def leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(dotted path, value) for every primitive in a mapped resource."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item, path)
    else:
        yield path, value
