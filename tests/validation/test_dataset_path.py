"""The suite runner's dataset cache is keyed on everything that shapes the data."""

from __future__ import annotations

from pdeml.problems.darcy.solver import DarcyFDSolver
from pdeml.validation.entry import dataset_path
from pdeml.validation.suite import parse_suite


def _suite(tmp_path, seed=0):
    return parse_suite(
        {
            "name": "key",
            "data_dir": str(tmp_path),
            "problems": [
                {
                    "id": "darcy",
                    "preset": "darcy",
                    "size": "quick",
                    "n_train": 4,
                    "n_test": 2,
                    "seed": seed,
                }
            ],
            "surrogates": [],
        }
    )


def test_same_case_same_path(tmp_path):
    suite = _suite(tmp_path)
    assert dataset_path(suite, suite.problems[0]) == dataset_path(suite, suite.problems[0])
    other = _suite(tmp_path, seed=1)
    assert dataset_path(other, other.problems[0]) != dataset_path(suite, suite.problems[0])


def test_changed_solver_default_makes_new_dataset(tmp_path, monkeypatch):
    # Darcy's face-average default changed from arithmetic to harmonic; a cache keyed on
    # the problem alone kept serving data solved the old way.
    suite = _suite(tmp_path)
    before = dataset_path(suite, suite.problems[0])
    original = DarcyFDSolver.describe

    def arithmetic(self):
        described = original(self)
        return {**described, "options": {**described["options"], "face_average": "arithmetic"}}

    monkeypatch.setattr(DarcyFDSolver, "describe", arithmetic)
    assert dataset_path(suite, suite.problems[0]) != before


def test_problem_without_solver_still_has_a_path(tmp_path, monkeypatch):
    suite = _suite(tmp_path)
    problem_type = type(suite.problems[0].problem())

    def no_solver(self, **options):
        raise NotImplementedError

    monkeypatch.setattr(problem_type, "reference_solver", no_solver)
    path = dataset_path(suite, suite.problems[0])
    assert path.parent == tmp_path and path.suffix == ".h5"
