"""Robustness cases in the Python API: the same mistakes made from a script."""

from __future__ import annotations

from typing import Any

from pdeml.testing.fuzz_cases import LONG_NAME, Arr, Case


def _api(
    what: str,
    call: str,
    *args: Any,
    mentions: tuple[str, ...] = (),
    expect: str = "error",
    **kwargs: Any,
) -> Case:
    return Case(
        f"api/{what}", call=call, args=args, kwargs=kwargs, mentions=mentions, expect=expect
    )


def _solve_inputs_cases(prefix: str, call: str) -> list[Case]:
    good = (3, 15, 15)
    bad_inputs = {
        "empty-dict": ({}, ("a",)),
        "not-a-dict": ("inputs", ("inputs|dict|mapping",)),
        # Another square grid is allowed (resolution invariance); a non-square one is not.
        "wrong-shape": ({"a": Arr((2, 15, 7))}, ("a",)),
        "zero-samples": ({"a": Arr((0, 15, 15))}, ("a|sample|samples",)),
        "extra-dim": ({"a": Arr((2, 1, 15, 15))}, ("a",)),
        "complex": ({"a": Arr(good, dtype="complex128")}, ("a",)),
        "nan": ({"a": Arr(good, bad=float("nan"))}, ("a",)),
        "inf": ({"a": Arr(good, bad=float("inf"))}, ("a",)),
        "overflow-float32": ({"a": Arr(good, bad=1e39)}, ("a",)),
        "object": ({"a": Arr(good, dtype="object")}, ("a",)),
        "unknown-name": ({"a": Arr(good), "b": Arr(good)}, ("b",)),
        "scalar": ({"a": Arr(())}, ("a",)),
    }
    return [
        _api(f"{prefix}/{what}", call, inputs, mentions=mentions)
        for what, (inputs, mentions) in bad_inputs.items()
    ]


def api_cases() -> list[Case]:
    """Every Python API case, in a fixed order."""
    cases: list[Case] = []
    lp = "pdeml.load_problem"
    cases += [
        _api("load_problem/no_such", lp, "no_such", mentions=("no_such",)),
        _api("load_problem/size", lp, "darcy", size="bogus", mentions=("bogus",)),
        _api("load_problem/resolution=4.5", lp, "darcy", resolution=4.5, mentions=("resolution",)),
        _api("load_problem/resolution=-1", lp, "darcy", resolution=-1, mentions=("resolution",)),
        _api(
            "load_problem/resolution=True", lp, "darcy", resolution=True, mentions=("resolution",)
        ),
        _api("load_problem/unknown", lp, "darcy", colour=1, mentions=("colour",)),
        _api("load_problem/int", lp, 5, mentions=("source|preset",)),
        _api("load_problem/none", lp, None, mentions=("source|preset",)),
        _api("load_problem/binary", lp, "binary.toml", mentions=("binary.toml",)),
        _api("load_problem/params5", lp, "params5.toml", mentions=("parameters",)),
        _api("load_problem/sigma=nan", lp, "darcy", sigma=float("nan"), mentions=("sigma",)),
        _api("load_problem/nu=-1", lp, "burgers", nu=-1.0, mentions=("nu",)),
        _api("load_problem/nu=str", lp, "burgers", nu="slow", mentions=("nu",)),
        _api(
            "load_problem/sr=huge",
            lp,
            "burgers",
            solver_resolution=2**40,
            mentions=("solver_resolution",),
        ),
    ]
    gen = "pdeml.generate"
    for what, kwargs, mentions in [
        ("problem=str", {"problem": "darcy", "n": 2}, ("problem",)),
        ("n=0", {"n": 0}, ("n",)),
        ("n=-1", {"n": -1}, ("n",)),
        ("n=1.5", {"n": 1.5}, ("n",)),
        ("n=True", {"n": True}, ("n",)),
        ("n=1e12", {"n": 10**12}, ("n",)),
        ("seed=-1", {"seed": -1}, ("seed",)),
        ("seed=str", {"seed": "x"}, ("seed",)),
        ("workers=0", {"workers": 0}, ("workers",)),
        ("workers=-1", {"workers": -1}, ("workers",)),
        ("dtype=float16", {"dtype": "float16"}, ("dtype",)),
        ("chunk_size=0", {"chunk_size": 0}, ("chunk_size",)),
        ("solver_options=bogus", {"solver_options": {"bogus": 1}}, ("bogus",)),
        ("solver_options=str", {"solver_options": "fast"}, ("solver_options",)),
        ("path=emptydir", {"path": "emptydir"}, ("emptydir",)),
        ("path=afile", {"path": "afile/x.h5"}, ("afile",)),
        ("path=long", {"path": LONG_NAME}, ("path|name",)),
        ("path=exists", {"path": "darcy.h5"}, ("darcy.h5",)),
        ("path=dot", {"path": "."}, ("path",)),
    ]:
        full = {
            "problem": "@darcy",
            "n": 2,
            "path": "new.h5",
            "workers": 1,
            "progress": False,
            **kwargs,
        }
        cases.append(_api(f"generate/{what}", gen, mentions=mentions, **full))
    od = "pdeml.open_dataset"
    for name, mentions in [
        ("no_such.h5", ("no_such.h5",)),
        ("emptydir", ("emptydir",)),
        ("binary.bin", ("binary.bin",)),
        ("not_pdeml.h5", ("not_pdeml.h5",)),
        ("truncated.h5", ("truncated.h5",)),
        ("damaged_attr.h5", ("damaged_attr.h5",)),
        ("unknown_problem_attr.h5", ("unknown_problem_attr.h5",)),
        ("wrong_resolution.h5", ("wrong_resolution.h5",)),
        (5, ("path",)),
        (None, ("path",)),
    ]:
        cases.append(_api(f"open_dataset/{name}", od, name, mentions=mentions))
    split = "@dataset.split"
    for what, kwargs, mentions in [
        ("n_test=0", {"n_test": 0}, ("n_test",)),
        ("n_test=-1", {"n_test": -1}, ("n_test",)),
        ("n_test=12", {"n_test": 12}, ("n_test",)),
        ("n_test=13", {"n_test": 13}, ("n_test",)),
        ("n_test=1.5", {"n_test": 1.5}, ("n_test",)),
        ("n_test=str", {"n_test": "x"}, ("n_test",)),
        ("fraction=0", {"test_fraction": 0.0}, ("test_fraction",)),
        ("fraction=1", {"test_fraction": 1.0}, ("test_fraction",)),
        ("fraction=nan", {"test_fraction": float("nan")}, ("test_fraction",)),
        ("both", {"n_test": 2, "test_fraction": 0.5}, ("n_test",)),
        ("neither", {}, ("n_test",)),
    ]:
        cases.append(_api(f"split/{what}", split, mentions=mentions, **kwargs))
    cases.append(_api("split/one-sample", "@one_sample.split", n_test=1, mentions=("n_test", "1")))
    for what, indices in [
        ("100", [100]),
        ("-100", [-100]),
        ("str", "x"),
        ("2d", [[1, 2]]),
        ("float", [1.5]),
    ]:
        cases.append(_api(f"subset/{what}", "@dataset.subset", indices, mentions=("indices",)))
    cases.append(_api("check_finite/nan", "@nan_dataset.check_finite", mentions=("u", "3")))
    cases.append(_api("check_finite/inf", "@inf_dataset.check_finite", mentions=("a", "5")))
    cases.append(_api("xarray/data_vars", "builtins:getattr", "@dataset", "data_vars", expect="ok"))
    ms = "pdeml.make_surrogate"
    for what, args, kwargs, mentions in [
        ("name=bogus", ("bogus", "@darcy"), {}, ("bogus",)),
        ("problem=int", ("fno", 5), {}, ("problem",)),
        ("modes=4.5", ("fno", "@darcy"), {"modes": 4.5}, ("modes",)),
        ("modes=1000", ("fno", "@darcy"), {"modes": 1000}, ("modes",)),
        ("modes=-1", ("fno", "@darcy"), {"modes": -1}, ("modes",)),
        ("modes=str", ("fno", "@darcy"), {"modes": "many"}, ("modes",)),
        ("width=0", ("fno", "@darcy"), {"width": 0}, ("width",)),
        ("width=-1", ("fno", "@darcy"), {"width": -1}, ("width",)),
        ("width=huge", ("fno", "@darcy"), {"width": 10**9}, ("width",)),
        ("layers=0", ("fno", "@darcy"), {"layers": 0}, ("layers",)),
        ("activation", ("fno", "@darcy"), {"activation": "bogus"}, ("activation",)),
        ("unknown", ("fno", "@darcy"), {"colour": 1}, ("colour",)),
        ("mgno-unknown", ("mgno", "@darcy"), {"colour": 1}, ("colour",)),
        ("mgno-channels=0", ("mgno", "@darcy"), {"channels": 0}, ("channels",)),
        ("pca-gp-unknown", ("pca-gp", "@darcy"), {"colour": 1}, ("colour",)),
    ]:
        cases.append(_api(f"make_surrogate/{what}", ms, *args, mentions=mentions, **kwargs))
    fit = "@fresh_fno.fit"
    for what, kwargs, mentions in [
        ("epochs=-1", {"epochs": -1}, ("epochs",)),
        ("epochs=1.5", {"epochs": 1.5}, ("epochs",)),
        ("lr=nan", {"lr": float("nan")}, ("lr",)),
        ("lr=-1", {"lr": -1.0}, ("lr",)),
        ("batch_size=0", {"batch_size": 0}, ("batch_size",)),
        ("device=cuda:7", {"device": "cuda:7"}, ("device",)),
        ("device=tpu", {"device": "tpu"}, ("device",)),
        ("amp=yes", {"amp": "yes"}, ("amp",)),
        ("unknown", {"colour": 1}, ("colour",)),
        ("optimizer", {"optimizer": "bogus"}, ("optimizer",)),
    ]:
        cases.append(
            _api(
                f"fit/{what}",
                fit,
                "@train",
                epochs=kwargs.pop("epochs", 1),
                mentions=mentions,
                **kwargs,
            )
        )
    cases.append(_api("fit/train=str", fit, "train.h5", epochs=1, mentions=("train",)))
    cases.append(_api("fit/nan-data", fit, "@nan_dataset", epochs=1, mentions=("u",)))
    cases += _solve_inputs_cases("fno.solve", "@fno.solve")
    cases += _solve_inputs_cases("solver.solve", "@solver.solve")
    ls = "pdeml.load_surrogate"
    for run, mentions in [
        ("no_such_run", ("no_such_run",)),
        ("emptydir", ("emptydir",)),
        ("afile", ("afile",)),
        ("run_bad_json", ("config.json",)),
        ("run_negative", ("width",)),
        ("run_huge", ("width",)),
        ("run_wrong_type", ("modes",)),
        ("run_unknown_key", ("colour",)),
        ("run_no_weights", ("run_no_weights",)),
        ("run_negative_shape", ("data_shapes|shape",)),
        ("run_huge_shape", ("data_shapes|shape",)),
        ("run_damaged_problem", ("resolution",)),
    ]:
        cases.append(_api(f"load_surrogate/{run}", ls, run, mentions=mentions))
    fa = "pdeml.from_arrays"
    good_in, good_out = {"a": Arr((3, 15, 15))}, {"u": Arr((3, 15, 15))}
    for what, inputs, outputs, extra, mentions in [
        ("nan-input", {"a": Arr((3, 15, 15), bad=float("nan"))}, good_out, {}, ("a",)),
        ("inf-output", good_in, {"u": Arr((3, 15, 15), bad=float("inf"))}, {}, ("u",)),
        ("overflow", good_in, {"u": Arr((3, 15, 15), bad=1e39)}, {}, ("u",)),
        ("complex", {"a": Arr((3, 15, 15), dtype="complex128")}, good_out, {}, ("a",)),
        ("shape", {"a": Arr((3, 7, 7))}, good_out, {}, ("a",)),
        ("missing-output", good_in, {}, {}, ("u",)),
        ("extra-field", {**good_in, "b": Arr((3, 15, 15))}, good_out, {}, ("b",)),
        ("n-mismatch", good_in, {"u": Arr((2, 15, 15))}, {}, ("u|samples",)),
        ("path-exists", good_in, good_out, {"path": "darcy.h5"}, ("darcy.h5",)),
        ("dtype", good_in, good_out, {"dtype": "int8"}, ("dtype",)),
    ]:
        kwargs = {"path": "arr.h5", **extra}
        cases.append(
            _api(f"from_arrays/{what}", fa, "@darcy", inputs, outputs, mentions=mentions, **kwargs)
        )
    val = "pdeml.validate"
    for what, args, kwargs, mentions in [
        ("suite=missing", ("no_such.toml", "rep"), {}, ("no_such.toml",)),
        ("workers=0", ("suite_tiny.toml", "rep"), {"workers": 0}, ("workers",)),
        ("workers=-1", ("suite_tiny.toml", "rep"), {"workers": -1}, ("workers",)),
        ("workers=str", ("suite_tiny.toml", "rep"), {"workers": "two"}, ("workers",)),
        ("scheduler", ("suite_tiny.toml", "rep"), {"scheduler": "nonsense"}, ("scheduler",)),
    ]:
        cases.append(
            _api(f"validate/{what}", val, *args, mentions=mentions, progress=False, **kwargs)
        )
    rs = "@darcy.reference_solver"
    cases.append(_api("reference_solver/unknown", rs, bogus=1, mentions=("bogus",)))
    cases.append(_api("reference_solver/backend", rs, backend="gpu", mentions=("backend|gpu",)))
    return cases
