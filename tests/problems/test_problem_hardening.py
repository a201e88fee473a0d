"""Hardening of problems, presets and reference solvers against user mistakes.

Every bad value must come out as a ``ValueError``/``TypeError`` naming the field, key or
file, quickly: no hang, no other exception type.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pdeml
from pdeml._checks import available_memory
from pdeml.problems import (
    Burgers1D,
    BurgersDirichlet,
    Darcy2D,
    DarcyMesh,
    Lorenz96,
    NavierStokes2D,
    Poisson2D,
    Problem,
)
from pdeml.problems.presets import load_problem, read_preset

CLASSES = [Burgers1D, BurgersDirichlet, Darcy2D, DarcyMesh, Lorenz96, NavierStokes2D, Poisson2D]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


# -- 1. sizes are bounded before any work -----------------------------------------------
@pytest.mark.parametrize(
    ("preset", "changes", "field"),
    [
        ("darcy", {"solver_resolution": 1_000_000_001}, "solver_resolution"),
        ("darcy", {"resolution": 30, "solver_resolution": 30001}, "resolution"),
        ("darcy", {"n_modes": 10**12}, "n_modes"),
        ("burgers", {"solver_resolution": 2**40, "resolution": 2**10}, "solver_resolution"),
        ("burgers", {"n_t": 10**12}, "n_t"),
        ("navier_stokes", {"dt": 1e-300}, "dt"),
        ("navier_stokes", {"dt": 5e-324}, "dt"),
        ("navier_stokes", {"T": 10**9}, "T"),
        ("lorenz96", {"K": 10**12}, "K"),
        ("lorenz96", {"J": 10**12}, "J"),
        ("lorenz96", {"dt": 1e-300}, "dt"),
        ("lorenz96", {"T": 1e300}, "T"),
        ("burgers_dirichlet", {"resolution": 10**15}, "resolution"),
        ("poisson", {"source_modes": 10**9}, "source_modes"),
        ("darcy_mesh", {"mesh_size": 1e-9}, "mesh_size"),
        ("darcy_mesh", {"max_nodes": 10**15}, "max_nodes"),
    ],
)
def test_huge_sizes_are_refused_at_once(preset, changes, field):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=field):
        load_problem(preset, **changes)
    assert time.perf_counter() - start < 2.0


def test_sizes_beyond_memory_are_refused_naming_memory():
    # 2**24 points with 10**4 snapshots: ~1.3 TB, beyond any test machine.
    with pytest.raises(ValueError, match=r"memory.*n_t|n_t.*memory"):
        Burgers1D(resolution=2**14, solver_resolution=2**24, n_t=10**4)
    assert available_memory() > 0


def test_darcy_message_gives_examples_not_an_enumeration():
    with pytest.raises(ValueError) as info:
        Darcy2D(resolution=30, solver_resolution=30001)
    assert "30001, 15001" in str(info.value) and len(str(info.value)) < 400
    assert Darcy2D(resolution=29, solver_resolution=85).allowed_resolutions() == (
        85,
        43,
        29,
        22,
        15,
        13,
        8,
        7,
        5,
    )


def test_draw_sizes_are_bounded():
    problem = Burgers1D(resolution=32, solver_resolution=64)
    with pytest.raises(ValueError, match="resolution"):
        problem.sample_inputs(2, 0, resolution=10**12)
    with pytest.raises(ValueError, match="n = "):
        problem.sample_inputs(10**15, 0)
    with pytest.raises(ValueError, match="resolution"):
        Darcy2D(resolution=15, solver_resolution=29).sample_inputs(1, 0, resolution=4.5)


def test_solver_time_steps_are_bounded():
    with pytest.raises(ValueError, match="dt"):
        Burgers1D(resolution=32, solver_resolution=64).reference_solver(dt=1e-300)
    with pytest.raises(ValueError, match="dt"):
        Lorenz96(K=4, J=2, T=0.05, spinup=0.0).reference_solver(dt=1e-300)
    with pytest.raises(ValueError, match="min_points"):
        BurgersDirichlet(resolution=17, n_t=2).reference_solver(min_points=10**15)


# -- 2. every parameter is validated, whatever is thrown at it ---------------------------
BAD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.binary(max_size=4),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.just(np.array([1.0, 2.0])),
    st.just(float("nan")),
    st.just(10**400),
    st.just(4.5),
    st.just(0),
    st.just(-1),
)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
@FAST
@given(data=st.data())
def test_random_parameters_give_only_clear_errors(cls, data):
    fields = [f.name for f in dataclasses.fields(cls)]
    field = data.draw(st.sampled_from(fields))
    value = data.draw(BAD_VALUES)
    start = time.perf_counter()
    try:
        cls.from_parameters({field: value})
    except (ValueError, TypeError) as error:
        assert field in str(error) or "resolution" in str(error), str(error)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (Burgers1D, "resolution", 4.5),
        (Burgers1D, "resolution", True),
        (Burgers1D, "nu", float("nan")),
        (Burgers1D, "nu", -0.1),
        (Burgers1D, "T", float("inf")),
        (Burgers1D, "sigma", "25"),
        (Darcy2D, "coefficient", np.array(["piecewise"])),
        (Darcy2D, "a_plus", 10**400),
        (Lorenz96, "K", 0),
        (DarcyMesh, "source_range", "12"),
        (DarcyMesh, "source_range", [10**400, 1]),
        (NavierStokes2D, "dt", 5e-324),
        (Poisson2D, "length_scale", -1.0),
    ],
)
def test_bad_parameters_name_the_field(cls, field, value):
    with pytest.raises((ValueError, TypeError), match=field):
        cls.from_parameters({field: value})


# -- 3. presets ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('problem = "darcy"\nparameters = 5\n', "parameters"),
        ('problem = "darcy"\n[parameters\n', "not valid TOML"),
        ('problem = "darcy"\nextra = 1\n', r"unknown top-level key.*extra.*problem"),
        ('problem = "nope"\n', r"problem.*nope.*darcy"),
        ('problem = "darcy"\n[parameters]\nbogus = 1\n', r"\[parameters\].*bogus"),
        (
            'problem = "darcy"\n[sizes.quick]\ngenerate = { n = 4, sed = 1 }\n',
            r"sizes.quick.*generate.*sed.*'n', 'seed'",
        ),
        ('problem = "darcy"\n[sizes.quick]\ngenerate = { n = "4" }\n', r"generate.*n must"),
        ('problem = "darcy"\nsizes = 3\n', "sizes"),
        ('problem = "darcy"\n[sizes]\nquick = 3\n', r"sizes.quick"),
        ('problem = "darcy"\n[sizes.quick]\nresolution = 4.5\n', r"resolution"),
    ],
)
def test_bad_preset_files_name_file_and_key(tmp_path, content, match):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        load_problem(path, size="quick")
    assert str(path) in str(info.value)


def test_binary_directory_and_missing_presets(tmp_path):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ValueError, match="not a text file") as info:
        read_preset(binary)
    assert str(binary) in str(info.value)
    with pytest.raises(ValueError, match="directory"):
        read_preset(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no such file.*darcy"):
        read_preset(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match=r"unknown size 'huge'.*paper.*quick"):
        load_problem("darcy", size="huge")


# -- 4. damaged problem dicts ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "match"),
    [
        (["problem", "darcy"], r"damaged.*mapping.*list"),
        ({"resolution": 29}, "damaged.*missing key 'problem'"),
        ({"problem": "nope"}, "damaged.*nope"),
        ({"problem": ["darcy"]}, "damaged.*'problem' must be a string"),
        ({"problem": "darcy", "bogus": 1}, "damaged.*bogus"),
        ({"problem": "darcy", "resolution": "29"}, "damaged.*resolution"),
        ({"problem": "darcy", 3: 1}, "damaged.*keys must be strings"),
    ],
)
def test_damaged_problem_dicts(data, match):
    with pytest.raises(ValueError, match=match):
        Problem.from_dict(data)


def test_problem_dict_round_trip_still_works():
    problem = pdeml.load_problem("darcy", size="quick")
    assert Problem.from_dict(problem.to_dict()) == problem


# -- 5. inputs to solve / check_inputs -------------------------------------------------------
@pytest.fixture
def burgers():
    return Burgers1D(resolution=16, solver_resolution=32)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda u: {"u0": u[:, :8]}, ValueError, r"u0.*8 points.*\(3, 8\).*at least 16"),
        (lambda u: {"u0": u[..., None]}, ValueError, r"u0.*expected shape.*16.*\(3, 16, 1\)"),
        (lambda u: {"u0": u[:0]}, ValueError, "u0.*at least one sample"),
        (lambda u: {}, ValueError, "missing"),
        (lambda u: {"u0": u, "extra": u}, ValueError, "unexpected.*extra"),
        (lambda u: {"u0": u + 1j}, TypeError, "u0.*complex"),
        (lambda u: {"u0": u > 0}, TypeError, "u0.*bool"),
        (lambda u: {"u0": u.astype(object)}, TypeError, "u0.*object"),
        (lambda u: {"u0": np.where(np.arange(3)[:, None] == 2, np.inf, u)}, ValueError, "sample 2"),
        (
            lambda u: {"u0": np.where(np.arange(3)[:, None] == 1, 1e39, u)},
            ValueError,
            "float32.*sample 1|sample 1.*float32",
        ),
    ],
)
def test_bad_inputs_are_refused(burgers, make, error, match):
    u = burgers.sample_inputs(3, 0)["u0"]
    with pytest.raises(error, match=match):
        burgers.reference_solver().solve(make(u))
    with pytest.raises(error, match=match):
        burgers.check_inputs(make(u))


def test_integer_arrays_are_converted_exactly(burgers):
    ones = np.ones((2, 16), dtype=np.int64)
    checked = burgers.check_inputs({"u0": ones})["u0"]
    assert checked.dtype == np.float64 and np.array_equal(checked, ones)


def test_darcy_mesh_keeps_integer_fields():
    problem = pdeml.load_problem("darcy_mesh", size="quick")
    inputs = problem.sample_inputs(1, 0)
    checked = problem.check_inputs(inputs)
    assert checked["triangles"].dtype == np.int64
    with pytest.raises(TypeError, match="source"):
        problem.check_inputs({**inputs, "source": inputs["source"].astype(complex)})


# -- 6. reference solver options ---------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_unknown_solver_options_name_the_allowed_ones(cls):
    problem = pdeml.load_problem(
        {
            c: n
            for c, n in zip(
                CLASSES,
                [
                    "burgers",
                    "burgers_dirichlet",
                    "darcy",
                    "darcy_mesh",
                    "lorenz96",
                    "navier_stokes",
                    "poisson",
                ],
            )
        }[cls],
        size="quick",
    )
    with pytest.raises(ValueError, match=r"unknown reference solver option.*foo.*allowed options"):
        problem.reference_solver(foo=1)


def test_bad_solver_option_values():
    ns = pdeml.load_problem("navier_stokes", size="quick")
    with pytest.raises(ValueError, match=r"backend.*numba.*torch|backend.*gpu"):
        ns.reference_solver(backend="gpu")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"cuda|CUDA"):
            ns.reference_solver(backend="torch", device="cuda")
    darcy = pdeml.load_problem("darcy", size="quick")
    with pytest.raises(ValueError, match="method"):
        darcy.reference_solver(method="magic")
    with pytest.raises(ValueError, match="dt"):
        pdeml.load_problem("burgers", size="quick").reference_solver(dt="big")
    assert math.isfinite(pdeml.load_problem("lorenz96", size="quick").reference_solver().dt)
