"""Strict JSON for every file pdeml writes: NaN and infinities as ``null``, atomic writes.

``json.dumps`` writes non-finite floats as the bare words ``NaN`` / ``Infinity``, which are
not JSON: browsers, ``jq`` and most other readers reject the whole file. A training log
or a validation entry with a NaN metric must stay readable, so every JSON pdeml writes goes
through :func:`strict_dumps`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays made plain and non-finite numbers ``None``.

    Anything else JSON cannot hold is written as its text.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return value
    return str(value)


def strict_dumps(value: Any, indent: int | None = None) -> str:
    """``value`` as strict JSON text (see :func:`jsonable`)."""
    return json.dumps(jsonable(value), indent=indent, allow_nan=False)


def write_json(path: str | Path, data: Any, indent: int | None = 1) -> None:
    """Write ``data`` as strict JSON, atomically: a temporary name in the same folder, then
    ``os.replace``, so the file at ``path`` is always whole."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(strict_dumps(data, indent=indent), encoding="utf-8")
    os.replace(tmp, path)


def read_json_object(path: str | Path) -> dict[str, Any]:
    """The JSON object in ``path``, with a message naming the file when it is not one.

    Raises
    ------
    ValueError
        The file is not UTF-8 JSON, or holds something other than an object.
    """
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value
