"""Guarded suite entries: the ``guard`` table, the entry's ``guard`` record, indicator quality."""

import json

import numpy as np
import pytest

import pdeml
from pdeml.problems import Darcy2D
from pdeml.solvers.base import Solver
from pdeml.validation.guarded import check_guard, indicator_quality, run_guard
from pdeml.validation.suite import parse_suite


def suite(guard):
    return {
        "name": "tiny",
        "problems": [{"id": "darcy", "preset": "darcy", "n_train": 12, "n_test": 6}],
        "surrogates": [{"id": "fno", "problem": "darcy", "name": "fno", "guard": guard}],
    }


def test_suite_reads_the_guard_table():
    parsed = parse_suite(suite({"tol": 0.05, "fallback": "warm-start"}))
    assert parsed.surrogates[0].guard == {
        "tol": 0.05,
        "fallback": "warm-start",
        "ood": False,
        "indicator": {},
    }
    assert parse_suite(suite({"tol": 1})).surrogates[0].guard["fallback"] == "solve"


@pytest.mark.parametrize(
    ("guard", "match"),
    [
        ({"fallback": "solve"}, "needs 'tol'"),
        ({"tol": 0}, r"guard\.tol must be a positive number"),
        ({"tol": 0.1, "fallback": "resolve"}, r"guard\.fallback must be one of"),
        ({"tol": 0.1, "speed": 1}, r"unknown key\(s\) \['speed'\]"),
        ({"tol": 0.1, "ood": "yes"}, "ood must be true or false"),
        (0.05, "expected a table"),
    ],
)
def test_guard_table_mistakes_are_named(guard, match):
    with pytest.raises(ValueError, match=r"surrogates\[0\]\.guard") as error:
        parse_suite(suite(guard))
    assert error.match(match)
    with pytest.raises(ValueError, match=match):
        check_guard(guard, "guard")


def test_indicator_quality_of_a_perfect_and_a_reversed_ranking():
    errors = np.linspace(0.01, 0.2, 40)
    perfect = indicator_quality(2 * errors, errors, tol=0.2)
    assert perfect["spearman"] == pytest.approx(1.0)
    assert perfect["worst_recall"] == 1.0 and perfect["worst_count"] == 2
    assert perfect["ratio_median"] == pytest.approx(2.0)
    assert perfect["accepted_worst_error"] == pytest.approx(errors[errors <= 0.1].max())
    reversed_ = indicator_quality(errors[::-1], errors, tol=1e-3)
    assert reversed_["spearman"] == pytest.approx(-1.0) and reversed_["worst_recall"] == 0.0
    assert reversed_["accepted_fraction"] == 0.0 and reversed_["accepted_worst_error"] is None


class Scaled(Solver):
    """The reference solution times ``1 + scale[i]``: relative error ``scale[i]`` exactly."""

    def __init__(self, problem, scale):
        super().__init__(problem)
        self.scale = np.asarray(scale, dtype=float)

    def solve(self, inputs):
        u = self.problem.reference_solver().solve(inputs)["u"]
        return {"u": u * (1.0 + self.scale[: len(u)])[:, None, None]}  # [:1]: a warm-up


def test_run_guard_records_what_the_report_shows():
    problem = Darcy2D(resolution=15, solver_resolution=15, coefficient="lognormal")
    inputs = problem.sample_inputs(4, seed=0)
    reference = problem.reference_solver().solve(inputs)
    scale = np.array([0.01, 0.2, 0.02, 0.3])
    train = {"a": problem.sample_inputs(20, seed=1)["a"]}
    spec = {"tol": 0.05, "fallback": "warm-start", "ood": True}
    record = run_guard(Scaled(problem, scale), spec, train, inputs, reference, scale)
    assert record["accepted_fraction"] == 0.5
    assert record["accepted_worst_error"] == pytest.approx(0.02)
    assert record["met"] is True and record["counts"] == {"accepted": 2, "warm-started": 2}
    assert record["time_per_sample"] > 0
    assert record["worst_error"] == pytest.approx(0.02, rel=1e-6)  # the others re-solved
    assert record["iterations_cold"] >= record["iterations_warm"] > 0
    assert record["indicator"]["spearman"] == pytest.approx(1.0)
    assert record["ood_rejected"] == 0
    json.dumps(record)  # goes into the entry's JSON file as it is


@pytest.mark.slow
def test_guarded_entry_in_a_suite(tmp_path):
    data = {
        "name": "tiny",
        "data_dir": str(tmp_path / "data"),
        "metrics": ["relative_l2"],
        "problems": [
            {
                "id": "darcy",
                "preset": "darcy",
                "n_train": 12,
                "n_test": 6,
                "set": {"resolution": 15, "solver_resolution": 29, "coefficient": "lognormal"},
            }
        ],
        "surrogates": [
            {
                "id": "fno",
                "problem": "darcy",
                "name": "fno",
                "hyperparameters": {"modes": 4, "width": 8},
                "training": {"epochs": 2},
                "guard": {"tol": 0.05, "fallback": "solve"},
            }
        ],
    }
    out = tmp_path / "out"
    pdeml.validate(data, out, workers=1, progress=False)
    record = json.loads((out / "entries" / "darcy__fno.json").read_text())
    assert record["status"] == "ok", record.get("error")
    guard = record["guard"]
    keys = {"tol", "fallback", "accepted_fraction", "accepted_worst_error", "time_per_sample"}
    assert keys <= set(guard)
    assert guard["tol"] == 0.05 and guard["fallback"] == "solve"
