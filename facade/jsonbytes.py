"""JSON bytes for FHIR resources, keeping decimals as they were written.

FHIR decimals carry their precision: a creatinine of ``1.00`` is not ``1.0``.
Mapped resources hold such values as ``decimal.Decimal`` (integers stay ints);
``dumps`` writes them digit for digit (orjson with a Fragment for each), and
``loads`` reads numbers with a fraction back as Decimals, so a resource keeps
its precision through the shared cache and into every answer.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson


def _fragment(value: Any) -> Any:
    if type(value) is Decimal:
        return orjson.Fragment(str(value).encode())
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any, option: int = 0) -> bytes:
    return orjson.dumps(value, default=_fragment, option=option)


_DECODER = json.JSONDecoder(parse_float=Decimal)


def loads(data: bytes | str) -> Any:
    """JSON with every number holding a fraction or exponent as a Decimal.

    Slower than orjson: used where a document is decoded once and served many
    times (a worker's copy of a cache entry), never per request.
    """
    text = data.decode() if isinstance(data, bytes | bytearray) else data
    return _DECODER.decode(text)
