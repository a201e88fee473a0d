"""``--set key=value``: values read as TOML, sorted into hyperparameters and training options."""

from __future__ import annotations

import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` with the value read as a TOML value (bare words stay strings)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--set {text!r}: expected key=value")
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def split_settings(surrogate_name: str, assignments: list[str]) -> tuple[dict, dict]:
    """Sort ``--set key=value`` into surrogate hyperparameters and training options.

    The rule of suites: the constructor's arguments are hyperparameters, the options of
    ``fit`` (but ``out_dir`` and ``resume``, which the command sets) training options.
    """
    from pdeml.surrogates.base import surrogate_class

    kind = surrogate_class(surrogate_name)
    hyper_names = set(kind.hyperparameter_names())
    train_names = set(kind.fit_option_names()) - {"out_dir", "resume"}
    hyper, train = {}, {}
    for assignment in assignments:
        key, value = parse_assignment(assignment)
        if key in hyper_names:
            hyper[key] = value
        elif key in train_names:
            train[key] = value
        elif kind.accepts_extra_hyperparameters():
            hyper[key] = value  # passed on by the constructor, which checks it
        else:
            raise ValueError(
                f"--set {key}: not a hyperparameter of {surrogate_name!r} "
                f"({', '.join(sorted(hyper_names))}) nor a training option "
                f"({', '.join(sorted(train_names))})"
            )
    return hyper, train
