"""``fit(..., warm_start=True)``: a second training cycle starts from the fitted weights."""

import pytest
import torch

import pdeml
from pdeml.problems import Darcy2D


@pytest.fixture(scope="module")
def darcy_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("darcy")
    problem = Darcy2D(resolution=15, solver_resolution=29)
    return pdeml.generate(problem, n=12, seed=0, path=folder / "d.h5", workers=1, progress=False)


def weights(surrogate):
    return {k: v.detach().clone() for k, v in surrogate.model.state_dict().items()}


def largest_change(before, after):
    return max(float((before[k] - after[k]).abs().max()) for k in before)


def test_warm_start_trains_on_from_the_saved_weights(tmp_path, darcy_set):
    """A loaded surrogate trained on with a vanishing rate keeps its weights (Adam moves
    each weight by about ``lr`` per step); the same call without ``warm_start`` starts
    from a fresh initialisation, far from them (so the check can fail)."""
    options = {"epochs": 3, "batch_size": 4, "progress": False}
    first = pdeml.make_surrogate("fno", darcy_set.problem, modes=4, width=8)
    first.fit(darcy_set, **options)
    first.save(tmp_path / "first")

    again = pdeml.load_surrogate(tmp_path / "first")
    before = weights(again)
    again.fit(darcy_set, warm_start=True, epochs=1, lr=1e-12, progress=False)
    assert largest_change(before, weights(again)) < 1e-8
    assert again.training["warm_start"] is True

    fresh = pdeml.load_surrogate(tmp_path / "first")
    fresh.fit(darcy_set, epochs=1, lr=1e-12, progress=False)
    assert largest_change(before, weights(fresh)) > 1e-3


def test_warm_start_runs_its_own_schedule_and_resumes(tmp_path, darcy_set):
    """The second cycle has its own optimiser, schedule and checkpoint, and a resumed
    second cycle finishes where an uninterrupted one does (the step schedule: a longer
    run of it is a resume, see Trainer)."""
    first = pdeml.make_surrogate("fno", darcy_set.problem, modes=4, width=8)
    first.fit(darcy_set, epochs=2, batch_size=4, progress=False)
    first.save(tmp_path / "first")
    cycle = {"lr": 5e-4, "step_size": 1, "gamma": 0.5, "batch_size": 4, "progress": False}

    whole = pdeml.load_surrogate(tmp_path / "first")
    whole.fit(darcy_set, warm_start=True, epochs=4, out_dir=tmp_path / "whole", **cycle)
    # this cycle's rate, halved after its first epoch (the first cycle ran at 1e-3)
    assert [h["lr"] for h in whole.history] == pytest.approx([2.5e-4, 1.25e-4, 6.25e-5, 3.125e-5])
    assert [h["epoch"] for h in whole.history] == [1, 2, 3, 4]

    part = pdeml.load_surrogate(tmp_path / "first")
    part.fit(darcy_set, warm_start=True, epochs=2, out_dir=tmp_path / "part", **cycle)
    rest = pdeml.load_surrogate(tmp_path / "first")
    rest.fit(darcy_set, warm_start=True, epochs=4, out_dir=tmp_path / "part", resume=True, **cycle)
    assert [h["epoch"] for h in rest.history] == [1, 2, 3, 4]
    for key, value in weights(whole).items():
        torch.testing.assert_close(weights(rest)[key], value)


def test_warm_start_refuses_an_unfitted_surrogate_and_other_shapes(tmp_path, darcy_set):
    fno = pdeml.make_surrogate("fno", darcy_set.problem, modes=4, width=8)
    with pytest.raises(ValueError, match="warm_start needs a fitted surrogate"):
        fno.fit(darcy_set, warm_start=True, epochs=1, progress=False)
    with pytest.raises(ValueError, match="warm_start needs a fitted surrogate"):
        fno.check_fit_options({"warm_start": True, "epochs": 1})  # before a CLI clears --out
    fno.fit(darcy_set, epochs=1, progress=False)
    finer = Darcy2D(resolution=29, solver_resolution=29)
    other = pdeml.generate(finer, n=4, seed=1, path=tmp_path / "f.h5", workers=1, progress=False)
    with pytest.raises(ValueError, match=r"warm_start needs training data of the fitted"):
        fno.fit(other, warm_start=True, epochs=1, progress=False)
    assert "warm_start" in fno.fit_option_names()
