"""The validation report: files, numbers, failures and a self-contained, escaped HTML page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from pdeml.problems import Burgers1D, Darcy2D
from pdeml.validation.report import format_number, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert('x')</script>"


def _stats(mean: float, std: float) -> dict[str, float]:
    return {"mean": mean, "std": std, "median": mean, "max": 2 * mean}


def _write(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def make_fake_run(out: Path) -> Path:
    """Fake runner output: Darcy (2D), Burgers (1D), a reference, an ok and a failed entry."""
    darcy = Darcy2D(resolution=15, solver_resolution=29)
    burgers = Burgers1D(resolution=32, solver_resolution=64)
    (out / "entries").mkdir(parents=True)
    _write(
        out / "suite.json",
        {
            "name": "fake",
            "description": "A hand-made suite for the report tests.",
            "environment": {
                "pdeml_version": "0.1.0",
                "commit": "abc1234",
                "machine": "test-box",
                "cpu": "Some CPU",
                "cores": 2,
                "device": "cpu",
                "python": "3.11",
                "torch": "2.4",
                "date": "2024-01-01T00:00:00",
            },
            "problems": {
                "darcy": {"problem": darcy.to_dict(), "n_train": 8, "n_test": 6, "dataset": "d.h5"},
                "burgers": {
                    "problem": burgers.to_dict(),
                    "n_train": 8,
                    "n_test": 6,
                    "dataset": "b.h5",
                },
            },
        },
    )
    common = {"n_train": 8, "n_test": 6, "history": [], "speedup": None, "speedup_note": ""}
    _write(
        out / "entries" / "darcy-reference.json",
        {
            **common,
            "id": "darcy-reference",
            "kind": "reference",
            "problem_id": "darcy",
            "surrogate": "finite-difference",
            "status": "ok",
            "error": None,
            "device": "cpu",
            "time_per_sample": 0.0312,
            "train_seconds": None,
            "parameters": None,
            # As the runner writes it: the ladder's error at the data's solver resolution.
            "metrics": {"relative_l2": {"all": _stats(0.0098, float("nan"))}},
            "ladder": [
                {"resolution": 15, "seconds_per_sample": 0.0008, "relative_l2": 0.0412},
                {"resolution": 29, "seconds_per_sample": 0.0031, "relative_l2": 0.0098},
                {"resolution": 57, "seconds_per_sample": 0.0205, "relative_l2": 0.00231},
            ],
        },
    )
    rng = np.random.default_rng(0)
    errors = np.array([0.0081, 0.0102, 0.0123, 0.0133, 0.0157, 0.0242])
    _write(
        out / "entries" / "darcy-fno.json",
        {
            **common,
            "id": "darcy-fno",
            "kind": "surrogate",
            "problem_id": "darcy",
            "surrogate": "fno",
            "status": "ok",
            "error": None,
            "device": "cpu",
            "time_per_sample": 0.00215,
            "train_seconds": 12.5,
            "parameters": 12345,
            "metrics": {
                "relative_l2": {"u": _stats(0.0123, 0.0045)},
                "relative_h1": {"u": _stats(0.0456, 0.01)},
                "max_error": {"u": _stats(0.000789, 0.0001)},
            },
            "metrics_skipped": ["boundary_error/u: not applicable"],
            "history": [
                {"epoch": e, "train_loss": 1.0 / (e + 1), "valid_metric": 0.5 / (e + 1) + 0.01}
                for e in range(20)
            ],
            "speedup": 4.5,
            "speedup_note": "",
        },
    )
    coords = darcy.coords()
    x, y = np.meshgrid(coords["x"], coords["y"], indexing="ij")
    arrays: dict[str, np.ndarray] = {"errors__u": errors, "coord__x": coords["x"]}
    arrays["coord__y"] = coords["y"]
    for row, index in (("best", 0), ("median", 2), ("worst", 5)):
        u = np.sin(np.pi * x) * np.sin(np.pi * y) * (1 + index)
        arrays[f"{row}__input__a"] = np.where(rng.normal(size=x.shape) > 0, 12.0, 3.0)
        arrays[f"{row}__reference__u"] = u
        arrays[f"{row}__prediction__u"] = u + errors[index] * rng.normal(size=u.shape) * 0.5
        arrays[f"index__{row}"] = np.array(index)
    np.savez(out / "entries" / "darcy-fno.npz", **arrays)
    _write(
        out / "entries" / "burgers-fno.json",
        {
            **common,
            "id": "burgers-fno",
            "kind": "surrogate",
            "problem_id": "burgers",
            "surrogate": "fno",
            "status": "failed",
            "error": f"RuntimeError: diverged {EVIL}",
            "device": "cpu",
            "time_per_sample": None,
            "train_seconds": None,
            "parameters": None,
            "metrics": {},
        },
    )
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    out = make_fake_run(tmp_path_factory.mktemp("run"))
    return out, write_report(out)


@pytest.mark.slow
def test_all_files_exist(report):
    out, paths = report
    assert paths["markdown"] == out / "report.md" and paths["html"] == out / "report.html"
    figures = [p for key, p in paths.items() if key.startswith("figures/")]
    names = {p.name for p in figures}
    assert {"darcy-accuracy-cost.png", "darcy-errors.png", "darcy-training.png"} <= names
    assert "darcy-fno-samples-u.png" in names
    for path in paths.values():
        assert path.is_file() and path.stat().st_size > 0
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_figures_are_png(report):
    _, paths = report
    for key, path in paths.items():
        if key.startswith("figures/"):
            assert path.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.slow
def test_markdown_holds_numbers_and_failure(report):
    out, _ = report
    md = (out / "report.md").read_text(encoding="utf-8")
    for text in (
        "0.0123 ± 0.0045",  # relative L2 mean ± std
        "0.0456",  # relative H1 mean
        "0.000789",  # max error mean
        "2.15",  # time per sample in ms
        "12.5",  # training seconds
        "12,345",  # parameters
        "4.5×",  # speed-up
        "31.2",  # reference time per sample in ms
        "0.00231",  # ladder error
        "RuntimeError: diverged",
        "burgers-fno",
        "abc1234",
        "](figures/darcy-accuracy-cost.png)",
    ):
        assert text in md, text
    assert "| failed |" in md
    assert "0.0098 |" in md and "± NaN" not in md  # no spread for the reference's one number
    assert "boundary_error/u: not applicable" in md


@pytest.mark.slow
def test_html_self_contained_and_escaped(report):
    out, _ = report
    page = (out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "<script" not in page
    assert page.count("data:image/png;base64,") >= 4
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "0.0123 ± 0.0045" in page and "Speed-up at equal accuracy" in page


def test_report_without_surrogates(tmp_path):
    out = make_fake_run(tmp_path)
    for name in ("darcy-fno.json", "darcy-fno.npz", "burgers-fno.json"):
        (out / "entries" / name).unlink()
    (out / "entries" / "broken.json").write_text("{not json", encoding="utf-8")
    paths = write_report(out)
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "darcy-reference" in md and "No entries ran for this problem." in md
    assert "Unreadable entry files" in md and "broken.json" in md
    assert "figures/darcy-accuracy-cost.png" in paths


def test_missing_suite_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"suite\.json"):
        write_report(tmp_path)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0123, "0.0123"), (1.23456e-5, "1.235e-05"), (None, "—"), (float("nan"), "n/a"), (0, "0")],
)
def test_format_number(value, text):
    assert format_number(value) == text
