"""Robustness cases at the command line: every option of every command, wrong values."""

from __future__ import annotations

from pdeml.testing.fixtures import BURGERS_SET, DARCY_SET
from pdeml.testing.fuzz_cases import LONG_NAME, Case

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


def cli_cases() -> list[Case]:
    """Every command-line case, in a fixed order."""
    return (
        _top_level_cases()
        + _generate_cases()
        + _info_cases()
        + _train_cases()
        + _predict_cases()
        + _import_cases()
        + _validate_cases()
    )
