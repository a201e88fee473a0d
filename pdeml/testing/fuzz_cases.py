"""The catalogue of robustness cases: user mistakes at the command line and in the Python API.

A :class:`Case` is plain data (it crosses to a worker process): the command-line arguments
or an API call with placeholders for fixtures, what should happen (an error, success, or
either), and the words its message must contain. Mistakes are built systematically (every
option of every command crossed with values of the wrong kind), not picked by hand, so that
a new option is fuzzed as soon as it is added to these tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pdeml.testing.fixtures import BURGERS_SET, DARCY_SET

LONG_NAME = "x" * 300 + ".h5"


@dataclass(frozen=True)
class Arr:
    """An array to build in the worker: ``shape``, ``dtype``, filled with ``fill``;
    ``bad`` is written at sample 1 (or 0 when there is one sample)."""

    shape: tuple[int, ...]
    dtype: str = "float64"
    fill: float = 1.0
    bad: Any = None


@dataclass(frozen=True)
class Case:
    """One robustness case.

    Attributes
    ----------
    id : str
        Unique, readable name (``group/what``).
    argv : tuple of str
        For a command-line case: the arguments after ``pdeml``; paths are relative to the
        case's copy of the fixtures.
    call : str
        For an API case: ``"pdeml.name"``, ``"module:name"`` or ``"@fixture.method"``.
    args, kwargs
        The call's arguments; a string ``"@name"`` is replaced by that fixture, an
        :class:`Arr` by its array, a dict of them by a dict of arrays.
    expect : {"error", "ok", "any"}
        ``error``: a user error (non-zero exit, or ValueError/TypeError/OSError kinds);
        ``ok``: success; ``any``: either, as long as there is no traceback.
    mentions : tuple of str
        Words the message must contain (case-insensitive, whole words); ``"a|b"`` accepts
        either.
    may_write : bool
        Whether new files are allowed (successful cases write their outputs).
    """

    id: str
    argv: tuple[str, ...] = ()
    call: str = ""
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    expect: str = "error"
    mentions: tuple[str, ...] = ()
    may_write: bool = False

    @property
    def kind(self) -> str:
        return "api" if self.call else "cli"

    @property
    def group(self) -> str:
        return self.id.split("/", 1)[0]


# -- values of the wrong kind, by what a parameter should be ---------------------------------
BAD_VALUES = {
    "positive": ["-1", "nan", "inf", '"text"', "true", "[1, 2]", "1e400"],
    "real": ["nan", "inf", '"text"', "true", "[1, 2]"],
    "nonneg_int": ["-1", "2.5", '"text"', "true"],
    "size": ["0", "-1", "4.5", '"big"', "true", "1000000001", "nan"],
    "choice": ['"bogus"', "5", "true"],
}

DARCY_PARAMETERS = {
    "a_plus": "positive",
    "a_minus": "positive",
    "threshold": "real",
    "coefficient": "choice",
    "sigma": "positive",
    "tau": "positive",
    "gamma": "positive",
    "forcing": "real",
    "resolution": "size",
    "solver_resolution": "size",
    "n_modes": "nonneg_int",
}
BURGERS_PARAMETERS = {
    "nu": "positive",
    "sigma": "positive",
    "tau": "positive",
    "gamma": "positive",
    "T": "positive",
    "resolution": "size",
    "solver_resolution": "size",
    "n_t": "nonneg_int",
}

#: Hyperparameters and training options of the FNO with wrong values (key, value).
BAD_TRAIN_SETTINGS = [
    ("modes", "4.5"),
    ("modes", "-1"),
    ("modes", "0"),
    ("modes", "1000"),
    ("modes", '"many"'),
    ("modes", "[4, 4, 4]"),
    ("width", "0"),
    ("width", "-8"),
    ("width", "4.5"),
    ("width", "1000000000"),
    ("layers", "0"),
    ("layers", "-1"),
    ("activation", '"bogus"'),
    ("normalizer", '"bogus"'),
    ("variant", '"bogus"'),
    ("padding", "-1"),
    ("projection", "0"),
    ("epochs", "-1"),
    ("epochs", "4.5"),
    ("epochs", '"ten"'),
    ("epochs", "1000000000000"),
    ("batch_size", "0"),
    ("batch_size", "-1"),
    ("lr", "-1"),
    ("lr", "nan"),
    ("lr", "inf"),
    ("lr", '"fast"'),
    ("weight_decay", "-1"),
    ("optimizer", '"bogus"'),
    ("scheduler", '"bogus"'),
    ("step_size", "-1"),
    ("gamma", "-1"),
    ("loss", '"bogus"'),
    ("device", '"cuda:7"'),
    ("device", '"tpu"'),
    ("device", "5"),
    ("amp", '"yes"'),
    ("amp", "1"),
    ("compile", '"yes"'),
    ("checkpoint_every", "-1"),
    ("seed", "-1"),
    ("seed", '"x"'),
    ("progress", '"no"'),
    ("colour", "1"),
]


def _set(assignments: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(a for s in assignments for a in ("--set", s))


def _generate_cases() -> list[Case]:
    base = ("generate", "darcy", "--quiet", "--workers", "1", *_set(DARCY_SET))
    out = ("--out", "new.h5")
    cases: list[Case] = []

    def add(what: str, argv: tuple[str, ...], *mentions: str, expect: str = "error") -> None:
        cases.append(Case(f"generate/{what}", argv=argv, mentions=mentions, expect=expect))

    for value in ["0", "-1", "abc", "1.5", "", str(10**12)]:
        add(f"n={value}", (*base, *out, "--n", value), "--n|n")
    for value in ["0", "-3", "1", "2", "4.5", "abc", str(10**9)]:
        add(f"resolution={value}", (*base, *out, "--n", "2", "--resolution", value), "resolution")
    for value in ["-1", "abc"]:
        add(f"seed={value}", (*base, *out, "--n", "2", "--seed", value), "--seed|seed")
    # numpy's SeedSequence takes integers of any size: a huge seed is not a mistake.
    add("seed=2**70", (*base, *out, "--n", "2", "--seed", str(2**70)), expect="any")
    for value in ["0", "-1", "abc"]:
        add(f"workers={value}", (*base[:3], "--workers", value, *_set(DARCY_SET), *out), "workers")
    for value in ["bogus", ""]:
        add(f"size={value!r}", (*base, *out, "--n", "2", "--size", value), "size")
    add("dtype=float16", (*base, *out, "--n", "2", "--dtype", "float16"), "--dtype")
    presets = {
        "no_such.toml": ("no_such.toml",),
        "emptydir": ("emptydir",),
        "binary.toml": ("binary.toml",),
        "binary.bin": ("binary.bin",),
        "bad_syntax.toml": ("bad_syntax.toml",),
        "params5.toml": ("params5.toml", "parameters"),
        "unknown_problem.toml": ("no_such_pde",),
        "unknown_top.toml": ("unknown_top.toml", "colour"),
        "generate_unknown.toml": ("generate_unknown.toml", "workerz"),
        "sizes_not_table.toml": ("sizes_not_table.toml", "sizes"),
        "no_problem.toml": ("no_problem.toml", "problem"),
        "empty.toml": ("empty.toml", "problem"),
        "nosuchpreset": ("nosuchpreset",),
    }
    for preset, mentions in presets.items():
        add(f"preset={preset}", ("generate", preset, "--n", "2", "--quiet", *out), *mentions)
    for problem, parameters, sets in (
        ("darcy", DARCY_PARAMETERS, DARCY_SET),
        ("burgers", BURGERS_PARAMETERS, BURGERS_SET),
    ):
        for name, kind in parameters.items():
            for value in BAD_VALUES[kind]:
                argv = ("generate", problem, "--n", "2", "--quiet", "--workers", "1", *out)
                argv += _set((*sets, f"{name}={value}"))
                add(f"{problem}.{name}={value}", argv, name)
    for text, mention in [("colour=1", "colour"), ("noequals", "noequals"), ("=3", "--set")]:
        add(f"set={text}", (*base, *out, "--n", "2", "--set", text), mention)
    for text, mention in [
        ("bogus=1", "bogus"),
        ('backend="gpu"', "backend|gpu"),
        ('device="cuda:7"', "device|cuda|backend"),
    ]:
        add(f"solver-option={text}", (*base, *out, "--n", "2", "--solver-option", text), mention)
    for target, mentions in [
        (".", ("--out|path",)),
        ("emptydir", ("emptydir",)),
        ("afile/x.h5", ("afile",)),
        (LONG_NAME, ("--out|path|name",)),
        ("darcy.h5", ("darcy.h5",)),
    ]:
        add(f"out={target[:12]}", (*base, "--n", "2", "--out", target), *mentions)
    add(
        "out=emptydir+overwrite",
        (*base, "--n", "2", "--out", "emptydir", "--overwrite"),
        "emptydir",
    )
    add("ok", (*base, "--n", "2", "--out", "new.h5"), expect="ok")
    return [
        c if c.expect == "error" else Case(c.id, argv=c.argv, expect=c.expect, may_write=True)
        for c in cases
    ]


def _info_cases() -> list[Case]:
    files = {
        "no_such.h5": ("no_such.h5",),
        "emptydir": ("emptydir",),
        "binary.bin": ("binary.bin",),
        "not_pdeml.h5": ("not_pdeml.h5",),
        "truncated.h5": ("truncated.h5",),
        "damaged_attr.h5": ("damaged_attr.h5", "pdeml_problem|problem"),
        "unknown_problem_attr.h5": ("unknown_problem_attr.h5", "nope"),
        "wrong_resolution.h5": ("wrong_resolution.h5", "resolution|shape"),
    }
    cases = [Case(f"info/{f}", argv=("info", f), mentions=m) for f, m in files.items()]
    cases.append(Case("info/nan.h5", argv=("info", "nan.h5"), expect="any", mentions=("u", "3")))
    cases.append(
        Case("info/inf_input.h5", argv=("info", "inf_input.h5"), expect="any", mentions=("a", "5"))
    )
    cases.append(Case("info/ok", argv=("info", "darcy.h5", "burgers.h5"), expect="ok"))
    return cases


def _train_cases() -> list[Case]:
    tiny = _set(("epochs=1", "modes=4", "width=8"))
    base = ("train", "--surrogate", "fno", "--quiet")
    cases: list[Case] = []

    def add(what: str, argv: tuple[str, ...], *mentions: str, expect: str = "error") -> None:
        cases.append(
            Case(
                f"train/{what}",
                argv=argv,
                mentions=mentions,
                expect=expect,
                may_write=expect != "error",
            )
        )

    data = {
        "no_such.h5": ("no_such.h5",),
        "emptydir": ("emptydir",),
        "binary.bin": ("binary.bin",),
        "not_pdeml.h5": ("not_pdeml.h5",),
        "truncated.h5": ("truncated.h5",),
        "damaged_attr.h5": ("damaged_attr.h5",),
        "wrong_resolution.h5": ("wrong_resolution.h5",),
        "nan.h5": ("nan.h5", "u"),
        "inf_input.h5": ("inf_input.h5", "a"),
    }
    for name, mentions in data.items():
        add(f"data={name}", (*base, "--data", name, "--out", "newrun", *tiny), *mentions)
    add(
        "problem-mismatch",
        (*base, "--data", "burgers.h5", "--problem", "darcy", "--out", "newrun", *tiny),
        "--problem",
    )
    add(
        "problem=bogus",
        (*base, "--data", "darcy.h5", "--problem", "bogus", "--out", "newrun"),
        "bogus",
    )
    add(
        "size=bogus",
        (*base, "--data", "darcy.h5", "--problem", "darcy", "--size", "bogus", "--out", "newrun"),
        "bogus",
    )
    add(
        "surrogate=bogus",
        ("train", "--surrogate", "bogus", "--data", "darcy.h5", "--out", "newrun"),
        "bogus",
    )
    for key, value in BAD_TRAIN_SETTINGS:
        settings = dict(s.split("=", 1) for s in ("epochs=1", "modes=4", "width=8"))
        settings[key] = value
        argv = (
            *base,
            "--data",
            "darcy.h5",
            "--out",
            "newrun",
            *_set(tuple(f"{k}={v}" for k, v in settings.items())),
        )
        add(f"set.{key}={value}", argv, key)
    add(
        "set=noequals",
        (*base, "--data", "darcy.h5", "--out", "newrun", "--set", "noequals"),
        "noequals",
    )
    for value in ["0", "-1", "12", "1000", "abc"]:
        argv = (*base, "--data", "darcy.h5", "--out", "newrun", "--n-valid", value, *tiny)
        add(f"n-valid={value}", argv, "--n-valid|n_valid|n_test")
    for target, mentions in [
        (".", ("--out",)),
        ("afile/run", ("afile",)),
        (LONG_NAME, ("--out|name",)),
        ("darcy.h5", ("darcy.h5",)),
        ("run_fno", ("run_fno",)),
    ]:
        add(f"out={target[:12]}", (*base, "--data", "darcy.h5", "--out", target, *tiny), *mentions)
    add(
        "resume-other-hyperparameters",
        (
            *base,
            "--data",
            "darcy.h5",
            "--out",
            "run_fno",
            "--resume",
            *_set(("epochs=2", "modes=3", "width=8")),
        ),
        "modes",
    )
    add(
        "resume-other-data",
        (*base, "--data", "burgers.h5", "--out", "run_fno", "--resume", *tiny),
        "burgers.h5|data|problem",
    )
    add("ok", (*base, "--data", "darcy.h5", "--out", "newrun", *tiny), expect="ok")
    return cases


def _predict_cases() -> list[Case]:
    cases: list[Case] = []

    def add(what: str, argv: tuple[str, ...], *mentions: str, expect: str = "error") -> None:
        cases.append(
            Case(
                f"predict/{what}",
                argv=argv,
                mentions=mentions,
                expect=expect,
                may_write=expect != "error",
            )
        )

    runs = {
        "no_such_run": ("no_such_run",),
        "emptydir": ("emptydir",),
        "afile": ("afile",),
        "darcy.h5": ("darcy.h5",),
        "run_bad_json": ("config.json",),
        "run_negative": ("width",),
        "run_huge": ("width",),
        "run_wrong_type": ("modes",),
        "run_unknown_key": ("colour",),
        "run_no_weights": ("run_no_weights",),
        "run_negative_shape": ("data_shapes|shape",),
        "run_huge_shape": ("data_shapes|shape",),
        "run_damaged_problem": ("resolution",),
    }
    for run, mentions in runs.items():
        add(f"run={run}", ("predict", run, "darcy.h5"), *mentions)
    data = {
        "no_such.h5": ("no_such.h5",),
        "binary.bin": ("binary.bin",),
        "burgers.h5": ("burgers",),
        "wrong_resolution.h5": ("wrong_resolution.h5",),
        "damaged_attr.h5": ("damaged_attr.h5",),
    }
    for name, mentions in data.items():
        add(f"data={name}", ("predict", "run_fno", name), *mentions)
    add("data=nan.h5", ("predict", "run_fno", "nan.h5"), "u", expect="any")
    # --all: the held-out part of the training file alone has no bad sample.
    add("data=inf_input.h5", ("predict", "run_fno", "inf_input.h5", "--all"), "a")
    for target, mentions in [
        ("darcy.h5", ("darcy.h5",)),
        ("burgers.h5", ("burgers.h5",)),
        (".", ("--out",)),
        ("emptydir", ("emptydir",)),
        ("afile/p.h5", ("afile",)),
        (LONG_NAME, ("--out|name",)),
    ]:
        add(f"out={target[:12]}", ("predict", "run_fno", "darcy.h5", "--out", target), *mentions)
    add("ok", ("predict", "run_fno", "darcy.h5", "--out", "pred.h5"), expect="ok")
    return cases


def _import_cases() -> list[Case]:
    problem = ("--problem", "darcy", *_set(DARCY_SET))
    cases: list[Case] = []

    def add(what: str, argv: tuple[str, ...], *mentions: str, expect: str = "error") -> None:
        cases.append(
            Case(
                f"import/{what}",
                argv=("import", *argv),
                mentions=mentions,
                expect=expect,
                may_write=expect != "error",
            )
        )

    sources = [
        ("no_such.npz", "arrays", ("no_such.npz",)),
        ("emptydir", "arrays", ("emptydir",)),
        ("binary.bin", "arrays", ("binary.bin",)),
        ("arrays_wrong.npz", "arrays", ("arrays_wrong.npz|shape|resolution",)),
        ("arrays_nan.npz", "arrays", ("a",)),
        ("darcy.h5", "fno-mat", ("darcy.h5",)),
        ("binary.bin", "fno-mat", ("binary.bin",)),
        ("binary.bin", "pdebench", ("binary.bin",)),
        ("binary.bin", "neuralop-pt", ("binary.bin",)),
        ("afile", "meshes", ("afile",)),
        ("emptydir", "meshes", ("emptydir",)),
    ]
    for source, fmt, mentions in sources:
        add(f"{fmt}:{source}", (source, "--format", fmt, *problem, "--out", "imp.h5"), *mentions)
    add(
        "format=bogus", ("arrays.npz", "--format", "bogus", *problem, "--out", "imp.h5"), "--format"
    )
    add(
        "problem=bogus",
        ("arrays.npz", "--format", "arrays", "--problem", "bogus", "--out", "imp.h5"),
        "bogus",
    )
    add(
        "problem=params5",
        ("arrays.npz", "--format", "arrays", "--problem", "params5.toml", "--out", "imp.h5"),
        "parameters",
    )
    for value in ["0", "-1", "abc"]:
        add(
            f"n={value}",
            ("arrays.npz", "--format", "arrays", *problem, "--n", value, "--out", "imp.h5"),
            "--n|n",
        )
    for value in ["0", "-1", "abc"]:
        argv = (
            "arrays.npz",
            "--format",
            "arrays",
            *problem,
            "--resolution",
            value,
            "--out",
            "imp.h5",
        )
        add(f"resolution={value}", argv, "resolution")
    for target, mentions in [
        ("darcy.h5", ("darcy.h5",)),
        (".", ("--out|path",)),
        ("afile/x.h5", ("afile",)),
        (LONG_NAME, ("--out|path|name",)),
    ]:
        add(
            f"out={target[:12]}",
            ("arrays.npz", "--format", "arrays", *problem, "--out", target),
            *mentions,
        )
    add("ok", ("arrays.npz", "--format", "arrays", *problem, "--out", "imp.h5"), expect="ok")
    return cases


def _validate_cases() -> list[Case]:
    cases: list[Case] = []

    def add(what: str, argv: tuple[str, ...], *mentions: str) -> None:
        cases.append(Case(f"validate/{what}", argv=("validate", *argv), mentions=mentions))

    suites = {
        "no_such.toml": ("no_such.toml",),
        "emptydir": ("emptydir",),
        "binary.toml": ("binary.toml",),
        "suite_bad_syntax.toml": ("suite_bad_syntax.toml",),
        "suite_unknown_key.toml": ("colour",),
        "suite_bad_surrogate.toml": ("no_such_model",),
        "suite_wrong_types.toml": ("n_train",),
        "suite_no_problems.toml": ("problems",),
        "suite_bad_problem_ref.toml": ("nowhere",),
        "params5.toml": ("params5.toml",),
    }
    for suite, mentions in suites.items():
        add(f"suite={suite}", (suite, "--out", "rep", "--workers", "1", "--quiet"), *mentions)
    for value in ["0", "-1", "abc"]:
        add(f"workers={value}", ("suite_tiny.toml", "--out", "rep", "--workers", value), "workers")
    for value in ["nonsense", "tcp://127.0.0.1:1"]:
        add(
            f"scheduler={value}",
            ("suite_tiny.toml", "--out", "rep", "--scheduler", value),
            "scheduler",
        )
    for target, mentions in [
        ("afile/rep", ("afile",)),
        (LONG_NAME, ("--out|name",)),
        ("darcy.h5", ("darcy.h5",)),
    ]:
        add(f"out={target[:12]}", ("suite_tiny.toml", "--out", target, "--workers", "1"), *mentions)
    return cases


def _top_level_cases() -> list[Case]:
    return [
        Case("top/no-command", argv=(), mentions=("command|COMMAND",)),
        Case("top/bogus-command", argv=("bogus",), mentions=("bogus",)),
        Case("top/generate-no-preset", argv=("generate",), mentions=("preset",)),
        Case("top/version", argv=("--version",), expect="ok"),
        Case("top/problems", argv=("problems",), expect="ok"),
    ]


# -- the Python API ---------------------------------------------------------------------------
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


def _api_cases() -> list[Case]:
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


def all_cases() -> list[Case]:
    """Every robustness case, in a fixed order; ids are unique."""
    cases = (
        _top_level_cases()
        + _generate_cases()
        + _info_cases()
        + _train_cases()
        + _predict_cases()
        + _import_cases()
        + _validate_cases()
        + _api_cases()
    )
    ids = [c.id for c in cases]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise AssertionError(f"duplicate robustness case ids: {sorted(duplicates)}")
    return cases
