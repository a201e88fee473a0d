"""Uncertainty and meshes in validation: masks, scalar outputs, calibration, goals, reports."""

import json
from statistics import NormalDist

import numpy as np
import pytest

import pdeml
from pdeml.data.generation import generate
from pdeml.problems.presets import load_problem
from pdeml.surrogates.base import Surrogate, register_surrogate
from pdeml.validation import plots
from pdeml.validation.entry import dataset_path, evaluate_goals, has_uncertainty
from pdeml.validation.metrics import calibration_curve, compute_metrics
from pdeml.validation.suite import parse_suite


# -- calibration --------------------------------------------------------------------------
def test_calibration_of_exact_gaussian_matches_nominal_levels():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(40, 500))
    sigma = rng.uniform(0.5, 2.0, size=mean.shape)
    ref = mean + sigma * rng.standard_normal(mean.shape)
    levels = (0.1, 0.5, 0.9, 0.95, 0.99)
    observed = calibration_curve(mean, sigma**2, ref, levels)
    # 20 000 independent Bernoulli draws: standard deviation <= sqrt(0.25 / 2e4) = 0.0035;
    # 4 of them bound a false failure below 1e-4.
    np.testing.assert_allclose(observed, levels, atol=0.015)


def test_calibration_of_too_narrow_intervals_is_the_exact_lower_curve():
    rng = np.random.default_rng(1)
    mean = np.zeros((50, 400))
    ref = rng.standard_normal(mean.shape)
    levels = np.array([0.2, 0.5, 0.8, 0.95])
    observed = calibration_curve(mean, np.full(mean.shape, 0.25), ref, levels)  # σ halved
    # |r| <= z σ/... with σ = 1/2: P(|N(0,1)| <= z/2) = 2 Φ(z/2) - 1, below the diagonal.
    expected = [2 * NormalDist().cdf(NormalDist().inv_cdf(0.5 * (1 + x)) / 2) - 1 for x in levels]
    np.testing.assert_allclose(observed, expected, atol=0.015)  # 2e4 draws, as above
    assert np.all(observed < levels)


def test_calibration_ignores_masked_values_and_checks_arguments():
    mean, ref = np.zeros((2, 4)), np.array([[0.1, 0.1, 9.0, 9.0], [0.1, 9.0, 9.0, 9.0]])
    mask = np.array([[True, True, False, False], [True, False, False, False]])
    # the three real values (|r - mean| = 0.1 σ) lie outside the 5 % interval (z = 0.063) and
    # inside the 99 % one; the padding (9 σ, outside both) must not count
    assert calibration_curve(mean, np.ones((2, 4)), ref, (0.05,), mask) == pytest.approx([0.0])
    assert calibration_curve(mean, np.ones((2, 4)), ref, (0.99,), mask) == pytest.approx([1.0])
    with pytest.raises(ValueError, match="levels"):
        calibration_curve(mean, np.ones((2, 4)), ref, (1.5,))
    with pytest.raises(ValueError, match="mask"):
        calibration_curve(mean, np.ones((2, 4)), ref, (0.5,), mask[:, :2])


# -- masks and scalars in compute_metrics ------------------------------------------------
def padded(rng, counts, width):
    ref, pred = np.zeros((len(counts), width)), np.zeros((len(counts), width))
    for i, c in enumerate(counts):
        ref[i, :c] = rng.normal(1.0, 0.3, c)
        pred[i, :c] = ref[i, :c] + rng.normal(0, 0.05, c)
    mask = np.arange(width)[None] < np.asarray(counts)[:, None]
    return pred, ref, mask


def test_masked_metrics_equal_the_metrics_of_the_trimmed_samples():
    rng = np.random.default_rng(2)
    counts = [5, 9, 12]
    pred, ref, mask = padded(rng, counts, 16)
    var = np.where(mask, 0.05**2, 1.0)
    names = ["relative_l2", "rmse", "nrmse", "max_error", "interval_coverage", "gaussian_nll"]
    got = compute_metrics(names, {"u": pred}, {"u": ref}, var={"u": var}, mask={"u": mask})
    for i, c in enumerate(counts):
        one = compute_metrics(
            names,
            {"u": pred[i : i + 1, :c]},
            {"u": ref[i : i + 1, :c]},
            var={"u": var[i : i + 1, :c]},
        )
        for name in names:
            assert got[name]["u"][i] == pytest.approx(one[name]["u"][0], rel=1e-12)
    # padding counted as values biases the RMSE low (zeros equal in both): the mask matters
    unmasked = compute_metrics("rmse", {"u": pred}, {"u": ref})["rmse"]["u"]
    assert np.all(unmasked < got["rmse"]["u"])


def test_grid_metrics_do_not_apply_to_masked_fields():
    rng = np.random.default_rng(3)
    pred, ref, mask = padded(rng, [3, 4], 6)
    with pytest.raises(ValueError, match="masked"):
        compute_metrics(
            "relative_h1", {"u": pred}, {"u": ref}, mask={"u": mask}, spatial_dims=1, periodic=False
        )


def test_scalar_outputs_give_relative_errors_per_sample():
    pred, ref = np.array([1.1, 1.8, -0.5]), np.array([1.0, 2.0, -0.4])
    got = compute_metrics(["relative_l2", "nrmse", "rmse"], {"q": pred}, {"q": ref})
    expected = np.abs(pred - ref) / np.abs(ref)
    np.testing.assert_allclose(got["relative_l2"]["q"], expected, rtol=1e-12)
    np.testing.assert_allclose(got["nrmse"]["q"], expected, rtol=1e-12)
    np.testing.assert_allclose(got["rmse"]["q"], np.abs(pred - ref), rtol=1e-12)
    cover = compute_metrics(
        "interval_coverage", {"q": pred}, {"q": ref}, var={"q": np.array([1e-4, 1.0, 1.0])}
    )["interval_coverage"]["q"]
    np.testing.assert_array_equal(cover, [0.0, 1.0, 1.0])  # 0.1 > 1.96 * 0.01


def test_darcy_mesh_masks_its_padded_field_only():
    problem = load_problem("darcy_mesh", size="quick")
    inputs = {"n_nodes": np.array([3, problem.max_nodes])}
    mask = problem.output_mask("u", inputs)
    assert mask.shape == (2, problem.max_nodes) and mask.dtype == bool
    assert mask[0].sum() == 3 and mask[0, :3].all() and mask[1].all()
    assert problem.output_mask("u_mean", inputs) is None
    assert load_problem("darcy", size="quick").output_mask("u", {}) is None


# -- goals --------------------------------------------------------------------------------
def test_goals_per_field_and_ranges():
    metrics = {
        "nrmse": {"u": {"mean": 6e-3}, "q": {"mean": 7e-3}},
        "interval_coverage": {"u": {"mean": 0.97}, "q": {"mean": 0.85}},
    }
    goal = {
        "nrmse": {"u": 1e-2, "q": 5e-3},
        "interval_coverage": {"u": [0.9, 0.98], "q": [0.9, 0.98]},
    }
    got = evaluate_goals(goal, metrics, ["u", "q"])
    assert got["nrmse/u"]["met"] and not got["nrmse/q"]["met"]
    assert got["interval_coverage/u"]["met"] and not got["interval_coverage/q"]["met"]
    assert got["interval_coverage/q"]["low"] == 0.9 and got["nrmse/q"]["field"] == "q"
    # a range on the mean over the fields: (0.97 + 0.85) / 2 = 0.91 is inside [0.9, 0.98)
    assert evaluate_goals({"interval_coverage": [0.9, 0.98]}, metrics, ["u", "q"])[
        "interval_coverage"
    ]["met"]


def suite_dict(tmp_path, goal=None, surrogates=None):
    return {
        "name": "mesh",
        "data_dir": str(tmp_path / "data"),
        "metrics": ["relative_l2", "nrmse", "rmse", "relative_h1", "interval_coverage"],
        "problems": [
            {
                "id": "dm",
                "preset": "darcy_mesh",
                "size": "quick",
                "set": {"mesh_size": 0.3, "max_nodes": 128, "max_triangles": 256},
                "n_train": 10,
                "n_test": 3,  # best, median and worst are then the whole test set
            }
        ],
        "surrogates": surrogates
        or [
            {
                "id": "mmgp",
                "problem": "dm",
                "name": "mmgp",
                "hyperparameters": {
                    "rings": 4,
                    "shape_modes": 3,
                    "field_modes": 3,
                    "n_samples": 16,
                },
                "training": {"restarts": 1, "max_iter": 5},
                "goal": goal or {},
            }
        ],
    }


def test_suite_goals_parse_and_name_mistakes(tmp_path):
    goal = {"nrmse": {"u": 1e-2, "u_mean": 5e-3}, "interval_coverage": [0.9, 0.98]}
    suite = parse_suite(suite_dict(tmp_path, goal))
    assert suite.surrogates[0].goal == {
        "nrmse": {"u": 1e-2, "u_mean": 5e-3},
        "interval_coverage": [0.9, 0.98],
    }
    for bad, message in (
        ({"interval_coverage": [0.98, 0.9]}, "low < high"),
        ({"interval_coverage": [0.9]}, "low < high"),
        ({"nrmse": {"u": -1.0}}, r"goal.nrmse.u must be a positive number"),
        ({"nrmse": {}}, "at least one field"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_suite(suite_dict(tmp_path, bad))


# -- the runner and the report on a tiny mesh problem ---------------------------------------
@register_surrogate
class _TrainingMean(Surrogate):
    """Predicts the training mean of every output: no variance (for the skip path)."""

    name = "test-training-mean"

    def __init__(self, problem):
        super().__init__(problem)
        self._set_hyperparameters({})

    def fit(self, train, valid=None, **options):
        self.means = {k: np.asarray(v, dtype=np.float64).mean(0) for k, v in train.outputs.items()}
        self.fitted = True
        return self

    def solve(self, inputs):
        n = len(inputs["n_nodes"])
        return {k: np.repeat(v[None], n, axis=0) for k, v in self.means.items()}

    def _save_state(self, folder):
        return {}

    def _load_state(self, folder, config):
        pass


@pytest.fixture(scope="module")
def mesh_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("mesh")
    data = suite_dict(
        tmp_path,
        {"nrmse": {"u": 0.5, "u_mean": 0.5}, "interval_coverage": {"u": [0.5, 1.0]}},
    )
    data["surrogates"].append({"id": "mean", "problem": "dm", "name": "test-training-mean"})
    # Made here in this process: the runner's generate would spawn a worker per core.
    case = parse_suite(data).problems[0]
    path = dataset_path(parse_suite(data), case)
    generate(case.problem(), case.n_train + case.n_test, case.seed, path, workers=1, progress=False)
    out = tmp_path / "out"
    written = pdeml.validate(data, out, workers=1, progress=False)
    return out, written


@pytest.mark.slow
def test_runner_uses_variances_and_masks(mesh_run):
    out, _ = mesh_run
    record = json.loads((out / "entries" / "dm__mmgp.json").read_text())
    assert record["status"] == "ok", record.get("traceback")
    assert record["uncertainty"] is True
    metrics = record["metrics"]
    assert set(metrics["interval_coverage"]) == {"u", "u_mean", "u_neumann_mean"}
    assert 0 <= metrics["interval_coverage"]["u"]["mean"] <= 1
    levels = record["calibration"]["levels"]
    assert levels[-2:] == [0.95, 0.99]
    for curve in record["calibration"]["observed"].values():
        assert len(curve) == len(levels) and np.all(np.diff(curve) >= 0)  # nested intervals
    assert any(s.startswith("relative_h1/u:") for s in record["metrics_skipped"])
    assert set(record["goals"]) == {"nrmse/u", "nrmse/u_mean", "interval_coverage/u"}
    with np.load(out / "entries" / "dm__mmgp.npz") as arrays:
        n = int(arrays["best__input__n_nodes"])
        var = arrays["best__variance__u"]
        assert np.all(var[:n] > 0) and np.all(var[n:] == 0)
        assert arrays["best__mask__u"].sum() == n
        assert arrays["test__variance__u_mean"].shape == (3,)
        # the stored coverage at 0.95 is the pooled one over the real nodes
        assert "calibration__u" in arrays
    # With 3 test samples, best/median/worst are all of them: recompute the masked RMSE
    # and the pooled 95 % coverage over the real nodes only. Counting the padding would
    # lower the RMSE (zero errors) and raise the coverage (zero error inside zero width).
    rmse, inside, count = [], 0, 0
    with np.load(out / "entries" / "dm__mmgp.npz") as arrays:
        assert sorted(int(arrays[f"index__{p}"]) for p in ("best", "median", "worst")) == [0, 1, 2]
        for pick in ("best", "median", "worst"):
            n = int(arrays[f"{pick}__input__n_nodes"])
            e = arrays[f"{pick}__prediction__u"][:n] - arrays[f"{pick}__reference__u"][:n]
            rmse.append(np.sqrt(np.mean(e**2)))
            sd = np.sqrt(arrays[f"{pick}__variance__u"][:n])
            inside += int(np.sum(np.abs(e) <= 1.959963984540054 * sd))
            count += n
        observed = dict(zip(levels, arrays["calibration__u"], strict=True))
    assert record["metrics"]["rmse"]["u"]["mean"] == pytest.approx(np.mean(rmse), rel=1e-9)
    assert observed[0.95] == pytest.approx(inside / count, rel=1e-12)


@pytest.mark.slow
def test_runner_skips_uncertainty_metrics_without_variance(mesh_run):
    out, _ = mesh_run
    record = json.loads((out / "entries" / "dm__mean.json").read_text())
    assert record["status"] == "ok", record.get("traceback")
    assert record["uncertainty"] is False and record["calibration"] is None
    assert "interval_coverage" not in record["metrics"]
    reasons = [s for s in record["metrics_skipped"] if s.startswith("interval_coverage/")]
    assert len(reasons) == 3 and all("no predictive variance" in s for s in reasons)


@pytest.mark.slow
def test_report_has_calibration_mesh_and_parity_figures(mesh_run):
    out, written = mesh_run
    text = written["report_md"].read_text()
    assert (out / "figures" / "dm-calibration.png").is_file()
    assert (out / "figures" / "dm__mmgp-mesh-u.png").is_file()
    assert (out / "figures" / "dm__mmgp-parity-u_mean.png").is_file()
    assert "Drawn with pyvista (off-screen)" in text or "matplotlib tripcolor" in text
    assert "coverage (u) = " in text and "in [0.5, 1)" in text


def test_mesh_panels_draw_with_either_renderer(capfd):
    nodes = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [9.0, 9.0]])
    triangles = np.array([[0, 1, 2], [1, 3, 2], [-1, -1, -1]])
    arrays = {"index__best": np.array(0), "errors__u": np.array([0.1])}
    arrays |= {
        "best__input__nodes": nodes,
        "best__input__triangles": triangles,
        "best__input__n_nodes": np.array(4),
        "best__input__n_triangles": np.array(2),
        "best__reference__u": np.array([0.0, 1.0, 2.0, 3.0, 0.0]),
        "best__prediction__u": np.array([0.1, 1.0, 2.0, 3.1, 0.0]),
        "best__variance__u": np.array([0.01, 0.01, 0.02, 0.02, 0.0]),
    }
    fig, used = plots.mesh_panels(arrays, "u", renderer="matplotlib")
    assert used == "matplotlib" and len(fig.axes) == 8  # 4 panels and their colour bars
    capfd.readouterr()
    fig, used = plots.mesh_panels(arrays, "u")
    assert used in ("pyvista", "matplotlib") and len(fig.axes) == 8
    # Off-screen VTK without a display logs "bad X server connection" and the like: silenced.
    assert capfd.readouterr().err == ""
    with pytest.raises(ValueError, match="renderer"):
        plots.mesh_panels(arrays, "u", renderer="vtk")


def test_has_uncertainty_reads_the_override():
    problem = load_problem("darcy_mesh", size="quick")
    assert not has_uncertainty(_TrainingMean(problem))
    assert has_uncertainty(pdeml.make_surrogate("mmgp", problem, rings=4))
