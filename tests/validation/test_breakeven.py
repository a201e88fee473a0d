"""Break-even accounting and repeated timings: arithmetic on made-up records."""

import json
import math

import pytest

from pdeml._json import write_json
from pdeml.validation.breakeven import BreakEven, break_even, entry_break_even, reading_of
from pdeml.validation.runner import _account
from pdeml.validation.timing import load_average, spread, thread_settings, timed_calls


def _numbers(**overrides):
    # 100 samples at 10 ms each (1 s of data) + 10 s of training = 11 s up front; the
    # surrogate saves 12 - 1 = 11 ms per query, so it is cheaper from query 1001 on.
    numbers = {
        "surrogate_seconds": 0.001,
        "reference_seconds": 0.012,
        "train_seconds": 10.0,
        "data_seconds_per_sample": 0.01,
        "n_train": 100,
    }
    return {**numbers, **overrides}


def test_finite_count_is_the_first_query_that_is_cheaper():
    found = break_even(**_numbers())
    assert found.queries == 1001 and found.bound == "" and found.reason == ""
    assert found.setup_seconds == pytest.approx(11.0)
    ours, theirs = found.costs(1001)
    assert ours < theirs
    ours, theirs = found.costs(1000)
    assert ours >= theirs


def test_physics_informed_surrogate_pays_no_data():
    found = break_even(**_numbers(needs_data=False, data_seconds_per_sample=None))
    assert found.data_seconds == 0.0 and found.queries == math.floor(10.0 / 0.011) + 1


def test_no_setup_pays_from_the_first_query():
    assert break_even(**_numbers(train_seconds=0.0, n_train=0)).queries == 1


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"surrogate_seconds": 0.02}, "slower per query"),
        ({"surrogate_seconds": 0.012}, "slower per query"),  # equal: never strictly cheaper
        ({"less_accurate": True, "reference_bound": "≤"}, "less accurate than every"),
    ],
)
def test_never_pays(overrides, reason):
    found = break_even(**_numbers(**overrides))
    assert math.isinf(found.queries) and reason in found.reason


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"train_seconds": None}, "training time unknown"),
        ({"data_seconds_per_sample": None}, "data generation time unknown"),
        ({"reference_seconds": None}, "no reference ladder"),
        ({"surrogate_seconds": None}, "no time per query"),
        # More accurate than every setting and slower than the most accurate one: the
        # equal-accuracy setting would be slower still, by an unknown amount.
        ({"surrogate_seconds": 0.02, "reference_bound": "≥"}, "a finer setting is needed"),
    ],
)
def test_unknown(overrides, reason):
    found = break_even(**_numbers(**overrides))
    assert math.isnan(found.queries) and reason in found.reason


def test_bounds_follow_the_reference_reading():
    # The reference time is a lower bound (most accurate setting): the count is at most this.
    assert break_even(**_numbers(reference_bound="≥")).bound == "≤"
    # An upper bound on the reference time (read against a more accurate setting): at least.
    assert break_even(**_numbers(reference_bound="≤")).bound == "≥"


@pytest.mark.parametrize(
    ("change", "match"),
    [({"n_train": -1}, "n_train"), ({"reference_bound": "<"}, "reference_bound")],
)
def test_bad_arguments_are_named(change, match):
    with pytest.raises(ValueError, match=match):
        break_even(**_numbers(**change))


@pytest.mark.parametrize(
    ("note", "reading"),
    [
        ("", ("", False)),
        (
            "≤ less accurate than every setting of the ladder; read against the cheapest",
            ("≤", True),
        ),
        ("≤ (upper bound: the coarsest setting is already as accurate)", ("≤", True)),
        ("≤ between 64 and the exact 128; read against the latter", ("≤", False)),
        ("≥ more accurate than every setting of the ladder", ("≥", False)),
    ],
)
def test_reading_of_speedup_notes(note, reading):
    assert reading_of(note) == reading


def _record(**overrides):
    record = {
        "id": "darcy__fno",
        "kind": "surrogate",
        "status": "ok",
        "time_per_sample": 0.001,
        "speedup": 12.0,  # the reference at equal accuracy takes 12 ms
        "speedup_note": "",
        "train_seconds": 10.0,
        "n_train": 100,
        "needs_data": True,
        "guard": {
            "tol": 0.05,
            "fallback": "solve",
            "accepted_fraction": 0.9,
            "accepted_worst_error": 0.03,
            "time_per_sample": 0.002,
            "mean_error": 0.02,  # the guarded answers: accepted predictions and re-solves
        },
    }
    return {**record, **overrides}


# Two reference settings: 0.04 in 12 ms and 0.01 in 48 ms (time ∝ error^-1 between them).
LADDER = [
    {"setting": "coarse", "relative_l2": 0.04, "seconds_per_sample": 0.012},
    {"setting": "fine", "relative_l2": 0.01, "seconds_per_sample": 0.048},
]


def test_entry_record_with_guard(tmp_path):
    record = _record()
    _account(record, 0.01, LADDER, ["u"])
    assert record["break_even"]["queries"] == 1001
    # The guard's answers are more accurate (0.02) than the bare surrogate's: the reference
    # of that accuracy, interpolated in log-log between the settings, takes
    # exp(log 12 ms + ½ log 4) = 24 ms, so the guard (2 ms) is 12x faster ...
    assert record["guard_speedup"] == pytest.approx(12.0)
    assert record["guard_speedup_note"] == ""
    # ... and saves 22 ms per query: 11 s / 22 ms = 500, so from 501 on.
    assert record["guard_break_even"]["queries"] == 501
    # A guard more accurate than every setting is read against the finest, a bound.
    precise = _record(guard={**_record()["guard"], "mean_error": 0.001})
    _account(precise, 0.01, LADDER, ["u"])
    assert precise["guard_speedup"] == pytest.approx(24.0)
    assert precise["guard_speedup_note"].startswith("≥")
    # Through strict JSON and back: ∞ is null with a flag, not "Infinity".
    slow = _record(time_per_sample=0.02, speedup=0.5)
    _account(slow, 0.01, LADDER, ["u"])
    write_json(tmp_path / "e.json", slow)
    read = json.loads((tmp_path / "e.json").read_text())
    assert read["break_even"]["queries"] is None and read["break_even"]["infinite"] is True
    assert math.isinf(BreakEven.from_record(read["break_even"]).queries)


def test_entry_without_guard_or_speedup():
    record = _record(speedup=None)
    del record["guard"]
    _account(record, 0.01, LADDER, ["u"])
    assert record["break_even"]["queries"] is None and not record["break_even"]["infinite"]
    assert "guard_break_even" not in record
    assert math.isnan(entry_break_even(record, None).queries)


def test_timed_calls_repeat_and_keep_the_last_result():
    calls = []
    result, seconds = timed_calls(lambda: calls.append(1) or len(calls), repeats=5)
    assert result == 5 and len(seconds) == 5 and all(s >= 0 for s in seconds)
    # Past the budget no further call starts (the first one always runs).
    _, seconds = timed_calls(lambda: None, repeats=5, budget=0.0)
    assert len(seconds) == 1
    with pytest.raises(ValueError, match="repeats"):
        timed_calls(lambda: None, repeats=0)


def test_spread_per_sample():
    summary = spread([4.0, 2.0, 8.0, 6.0, 10.0], per=2)
    assert summary["repeats"] == 5 and summary["median"] == 3.0
    assert (summary["min"], summary["max"]) == (1.0, 5.0)
    assert (summary["q1"], summary["q3"]) == (2.0, 4.0)
    with pytest.raises(ValueError, match="seconds"):
        spread([])
    with pytest.raises(ValueError, match="per"):
        spread([1.0], per=0)


def test_thread_settings_and_load_average():
    settings = thread_settings()
    assert {"torch", "numba", "blas", "OMP_NUM_THREADS"} <= set(settings)
    load = load_average()
    assert load is None or (len(load) == 3 and all(v >= 0 for v in load))
