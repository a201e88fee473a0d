"""Checks of the keys of a suite's tables: each mistake a ``ValueError`` naming the key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    """``data[key]`` as a dict (``{}`` when absent); not a table is a ``ValueError``."""
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: {key} must be a table, got {type(value).__name__}")
    return dict(value)


def array(data: Mapping[str, Any], key: str, where: str, tables: bool = False) -> list[Any]:
    """``data[key]`` as a list (``[]`` when absent), of tables if ``tables``."""
    value = data.get(key, [])
    if not isinstance(value, list) or (tables and not all(isinstance(v, Mapping) for v in value)):
        kind = "an array of tables ([[" + key + "]])" if tables else "an array"
        raise ValueError(f"{where}: {key} must be {kind}, got {value!r}")
    return value


def count(value: Any, where: str, minimum: int = 1) -> int:
    """``value`` if it is an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{where} must be an integer >= {minimum}, got {value!r}")
    return value


def known(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    """Refuse keys of ``data`` outside ``allowed``, naming them and the allowed ones."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(allowed)}")
