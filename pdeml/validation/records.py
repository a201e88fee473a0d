"""Entry records on disk: strict JSON (NaN as null, :func:`pdeml._json.write_json`), written
atomically; the fingerprint that tells whether a finished entry is still current."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

ENTRIES = "entries"


def number(value: Any) -> float:
    """A float from a JSON value: ``None`` (how a NaN is written) and non-numbers are NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return float("nan")
    return float(value)


def spec_fingerprint(spec: Mapping[str, Any]) -> str:
    """A digest of what an entry computes: problem, dataset, surrogate and its training.

    Where it runs (``out``) and with how many threads do not change the result, so they are
    left out; everything else does.
    """
    what = {k: v for k, v in spec.items() if k not in ("out", "threads")}
    return hashlib.sha1(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()
