"""The answer first: the summary table opens the report, with break-even and guard columns."""

import json
import re
from pathlib import Path

import pytest
from test_report import make_fake_run

from pdeml.validation.report import write_report
from pdeml.validation.report_summary import goal_verdict, guard_cell
from pdeml.validation.runner import _account


def _add_accounting(out: Path) -> None:
    """What the runner adds to the fake run: repeated timings, thread pools, load averages,
    break-even counts, and a guarded copy of the Darcy FNO."""
    suite_path = out / "suite.json"
    suite = json.loads(suite_path.read_text())
    suite["environment"] |= {
        "load_start": [0.52, 0.61, 0.7],
        "load_end": [1.25, 0.9, 0.75],
        "threads": "1 local worker process(es), torch, numba and BLAS capped at 2 thread(s) each",
    }
    suite["problems"]["darcy"]["data_seconds_per_sample"] = 0.004
    suite_path.write_text(json.dumps(suite))
    path = out / "entries" / "darcy-fno.json"
    fno = json.loads(path.read_text())
    fno |= {
        "time_per_sample_spread": {
            "repeats": 5,
            "median": 0.00215,
            "min": 0.0021,
            "q1": 0.00212,
            "q3": 0.0022,
            "max": 0.0024,
        },
        "timing_threads": {"torch": 2, "numba": 2, "blas": 2, "OMP_NUM_THREADS": "2"},
        "needs_data": True,
        "goals": {"relative_l2": {"bound": 0.02, "value": 0.0123, "met": True}},
    }
    guarded = dict(fno, id="darcy-fno-guarded")
    guarded["guard"] = {
        "tol": 0.05,
        "fallback": "solve",
        "accepted_fraction": 0.92,
        "accepted_worst_error": 0.031,
        "time_per_sample": 0.003,
        "mean_error": 0.005,  # re-solved samples make the guarded answers more accurate
    }
    slow = dict(fno, id="darcy-slow", time_per_sample=0.05, speedup=0.043)
    references = [json.loads(p.read_text()) for p in (out / "entries").glob("*.json")]
    ladder = next(r["ladder"] for r in references if r.get("kind") == "reference")
    for record in (fno, guarded, slow):
        _account(record, 0.004, ladder, ["u"])
        (out / "entries" / f"{record['id']}.json").write_text(json.dumps(record))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = make_fake_run(tmp_path_factory.mktemp("run"))
    _add_accounting(out)
    return out, write_report(out)


def test_summary_comes_first_in_markdown(report):
    out, _ = report
    md = (out / "report.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", md, flags=re.M)
    assert headings[0] == "Summary" and headings[-1] == "Environment"
    assert headings.index("How to read this report") < headings.index("Problem darcy")
    # The first table of the page is the summary, across both problems.
    first_table = md[md.index("## Summary") : md.index("## How to read")]
    assert first_table.count("| ") > 0 and md.index("|") > md.index("## Summary")
    for text in ("Break-even (queries)", "Speed-up at equal accuracy", "Guarded", "Goal"):
        assert text in first_table, text
    # 4 ms of data per sample x 8 samples + 12.5 s of training; each query saves
    # 4.5 x 2.15 - 2.15 ms (the reference at equal accuracy is 4.5x slower):
    # (0.032 + 12.5) / 0.007525 = 1665.4, so from query 1666 on.
    assert "1,666" in first_table
    assert "92 % accepted; worst 0.031 < tol 0.05" in first_table
    assert "∞" in first_table and "failed" in first_table and "| met |" in first_table
    # One verdict each, in words.
    assert "**darcy-fno**: Mean relative L2 error 0.0123; 4.5× faster than the reference" in md
    assert "pays for itself after 1,666 queries" in md
    assert "**darcy-slow**:" in md and "never pays for itself (slower per query" in md
    assert "**burgers-fno**: Failed (RuntimeError: diverged" in md
    assert "guarded at tol 0.05" in md and "with the guard on after" in md


def test_details_hold_spread_break_even_and_environment(report):
    out, paths = report
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "2.1–2.4 (5 runs)" in md  # fastest and slowest repeat, in ms
    assert "0.52, 0.61, 0.7" in md and "1.25, 0.9, 0.75" in md
    assert "torch 2, numba 2, BLAS 2, OMP_NUM_THREADS=2" in md
    assert "BLAS capped at 2" in md
    assert "figures/darcy-break-even.png" in paths
    assert "Break-even (queries): the smallest number of queries" in md


def test_html_opens_with_the_summary_table(report):
    out, _ = report
    page = (out / "report.html").read_text(encoding="utf-8")
    summary = page.index("<h2>Summary</h2>")
    assert page.index("<table") > summary
    assert page.index("<table") < page.index("<h2>How to read this report</h2>")
    assert page.index("<h2>Environment</h2>") > page.index("<h2>Problem darcy</h2>")
    assert page.index("<h2>Summary</h2>") < page.index("<h2>Environment</h2>")


def test_guard_cells_and_goal_verdicts():
    guard = {"tol": 0.05, "accepted_fraction": 0.5, "accepted_worst_error": 0.08}
    missed = {"status": "ok", "guard": guard, "goals": {"l2": {"met": True}}}
    assert guard_cell(missed) == "50 % accepted; worst 0.08 ≥ tol 0.05"
    assert goal_verdict(missed) == "MISSED"  # the guard's tolerance is a goal too
    nothing = {"tol": 0.05, "accepted_fraction": 0.0, "accepted_worst_error": None}
    assert guard_cell({"guard": nothing}) == "0 % accepted; none accepted at tol 0.05"
    assert goal_verdict({"status": "ok", "guard": nothing}) == "met"
    assert goal_verdict({"status": "ok"}) == "—"
    assert goal_verdict({"status": "failed", "goals": {"l2": {"met": False}}}) == "MISSED"
