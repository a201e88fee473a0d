"""The command line: the documented commands work, user mistakes give one line and exit 2."""

import subprocess
import sys

import pytest

import pdeml
from pdeml.cli import main, parse_assignment


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "pdeml.cli", *args], capture_output=True, text=True, check=False
    )


def test_generate_then_info(tmp_path, capsys):
    out = tmp_path / "burgers.h5"
    status = main(
        [
            "generate",
            "burgers",
            "--size",
            "quick",
            "--n",
            "3",
            "--out",
            str(out),
            "--set",
            "solver_resolution=64",
            "--resolution",
            "32",
            "--seed",
            "4",
            "--workers",
            "1",
            "--quiet",
        ]
    )
    assert status == 0
    assert "wrote" in capsys.readouterr().out
    with pdeml.open_dataset(out) as ds:
        assert len(ds) == 3 and ds.attrs["seed"] == 4 and ds.problem.resolution == 32
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "problem 'burgers'" in text and "u0" in text and "burgers-spectral" in text


def test_preset_file_path_works(tmp_path):
    out = tmp_path / "d.h5"
    status = main(
        [
            "generate",
            "problems/darcy.toml",
            "--n",
            "2",
            "--out",
            str(out),
            "--set",
            "solver_resolution=29",
            "--resolution",
            "15",
            "--workers",
            "1",
            "--quiet",
        ]
    )
    assert status == 0 and out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "heat", "--out", "x.h5"], "not a built-in preset"),
        (["generate", "darcy", "--size", "huge", "--out", "x.h5"], "unknown size 'huge'"),
        (["generate", "darcy", "--resolution", "30", "--out", "x.h5"], "resolution 30"),
        (["generate", "burgers", "--set", "nu=-1", "--out", "x.h5"], "nu must be"),
        (["generate", "burgers", "--set", "nu", "--out", "x.h5"], "key=value"),
        (["generate", "burgers", "--n", "0", "--out", "x.h5"], "n must be"),
        (["info", "missing.h5"], "no such file"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(tmp_path, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "pdeml.cli", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pdeml: error:") and message in lines[0]
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "x.h5.partial").exists()


def test_existing_output_is_kept(tmp_path):
    out = tmp_path / "d.h5"
    out.write_bytes(b"keep me")
    result = run_cli("generate", "darcy", "--out", str(out))
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert out.read_bytes() == b"keep me"


def test_corrupt_dataset_info(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    result = run_cli("info", str(bad))
    assert result.returncode == 2 and "not a readable" in result.stderr


def test_parse_assignment_reads_toml_values():
    assert parse_assignment("nu=0.05") == ("nu", 0.05)
    assert parse_assignment("resolution = 43") == ("resolution", 43)
    assert parse_assignment('coefficient="lognormal"') == ("coefficient", "lognormal")
    assert parse_assignment("coefficient=lognormal") == ("coefficient", "lognormal")
    with pytest.raises(ValueError, match="key=value"):
        parse_assignment("=3")


@pytest.mark.slow
def test_train_a_gp_surrogate_reports_its_validation_error(tmp_path, capsys):
    """Surrogates without a checkpointed training loop (GP) train from the CLI too; their
    held-out error is computed directly, and --resume is refused with one line."""
    from pdeml.problems import Burgers1D

    data = tmp_path / "b.h5"
    problem = Burgers1D(resolution=32, solver_resolution=64)
    pdeml.generate(problem, n=20, seed=0, path=data, workers=1, progress=False).close()
    run = tmp_path / "gp"
    settings = ["--set", "restarts=1", "--set", "max_iter=20", "--set", "output_modes=4"]
    args = ["train", "--data", str(data), "--surrogate", "pca-gp", "--out", str(run), *settings]
    assert main([*args, "--quiet"]) == 0
    line = capsys.readouterr().out
    error = float(line.split("validation relative L2 ")[1].split()[0])
    assert 0 < error < 1 and (run / "config.json").is_file()
    assert main([*args, "--resume"]) == 2
    assert "has no checkpoints" in capsys.readouterr().err
