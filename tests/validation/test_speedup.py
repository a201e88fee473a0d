"""The one equal-accuracy reading (``pdeml.validation.speedup``), used by the validation
report and by the NSM study (``validation/studies/nsm_comparison.py``, formerly tested by path)."""

import math

import pytest

from pdeml.validation.speedup import (
    LOWER_BOUND,
    UPPER_BOUND,
    equal_accuracy_setting,
    speedup_at_equal_accuracy,
)

# The NSM study's sweep: (grid, dt, error against the fine reference, seconds per sample).
SWEEP = [(9, None, 2e-2, 1e-4), (17, None, 4e-3, 5e-4), (33, None, 1e-3, 2e-3)]
LADDER = [{"grid": n, "relative_l2": e, "seconds_per_sample": s} for n, _, e, s in SWEEP]


def test_the_cheapest_setting_at_least_as_accurate_is_chosen():
    # 17 is the cheapest setting with error <= 5e-3; 5e-4 / 1e-4 = 5x.
    setting, bound = equal_accuracy_setting(5e-3, LADDER)
    assert (setting["grid"], bound) == (17, "")
    # The speed-up is interpolated (log-log) between 9 and 17, which bracket 5e-3: 5e-4 s
    # at 4e-3 and 1e-4 s at 2e-2 give 1e-4 * 5**(log(4) / log(5)) = 4e-4 s at 5e-3.
    assert speedup_at_equal_accuracy(5e-3, 1e-4, LADDER) == (pytest.approx(4.0), "")


def test_a_surrogate_more_accurate_than_every_setting_is_said_to_be_so():
    # Not matched to the finest setting as if it were as accurate: marked as a lower bound.
    setting, bound = equal_accuracy_setting(1e-4, LADDER)
    assert (setting["grid"], bound) == (33, LOWER_BOUND)
    ratio, note = speedup_at_equal_accuracy(1e-4, 1e-4, LADDER)
    assert ratio == pytest.approx(20.0) and note.startswith("≥")


def test_the_coarsest_setting_gives_an_upper_bound():
    setting, bound = equal_accuracy_setting(0.5, LADDER)
    assert (setting["grid"], bound) == (9, UPPER_BOUND)


def test_missing_and_non_finite_values_are_left_out():
    ladder = [*LADDER, {"grid": 65, "relative_l2": None, "seconds_per_sample": 1e-5}]
    ladder.append({"grid": 129, "relative_l2": 1e-6, "seconds_per_sample": math.nan})
    assert equal_accuracy_setting(5e-3, ladder)[0]["grid"] == 17
    assert equal_accuracy_setting(math.nan, LADDER) == (None, "")
    assert equal_accuracy_setting(5e-3, []) == (None, "")
    assert speedup_at_equal_accuracy(5e-3, 0.0, LADDER) == (None, "")
