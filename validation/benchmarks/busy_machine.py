"""A validation suite on an idle machine and beside a competing CPU-bound process.

With other jobs on the cores, thread pools sized to the whole machine (torch's OpenMP pool,
numba's, one per Dask worker) wait for busy cores; the README's quick suite once took over
90 minutes instead of about 4. This script runs a suite twice per round, alternating idle
and busy (``--competitors`` processes spinning ``while True: pass``), each run generating
its data afresh in its own folder, and reports the wall times and their ratio (goal: busy
within 2.5x of idle).

    python validation/benchmarks/busy_machine.py --suite validation/suites/quick.toml
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import header, markdown_table, write_report


def _suite_copy(suite: Path, folder: Path) -> Path:
    """The suite with its data folder moved into ``folder`` (so nothing is reused)."""
    text = suite.read_text()
    data = folder / "data"
    line = f'data_dir = "{data}"'
    text, count = re.subn(r"(?m)^data_dir\s*=.*$", line, text)
    if not count:
        text = line + "\n" + text
    copy = folder / suite.name
    copy.write_text(text)
    return copy


def run_suite(suite: Path, competitors: int, workers: int | None) -> tuple[float, int]:
    """Wall seconds of ``pdeml validate`` on a fresh copy of ``suite``, and its exit status."""
    with tempfile.TemporaryDirectory(prefix="pdeml-busy-") as tmp:
        copy = _suite_copy(suite, Path(tmp))
        spinners = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(competitors)
        ]
        try:
            argv = [sys.executable, "-m", "pdeml.cli", "validate", str(copy), "--out"]
            argv += [str(Path(tmp) / "out"), "--quiet"]
            if workers is not None:
                argv += ["--workers", str(workers)]
            begin = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - begin
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
        if proc.returncode != 0:
            print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
        return seconds, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=Path("validation/suites/quick.toml"))
    parser.add_argument("--rounds", type=int, default=1, help="idle/busy pairs (default 1)")
    parser.add_argument("--competitors", type=int, default=1, help="spinning processes")
    parser.add_argument("--workers", type=int, help="passed to pdeml validate --workers")
    parser.add_argument("--out", default="busy_machine", help="report name under reports/")
    args = parser.parse_args()

    rows = []
    for round_ in range(args.rounds):
        pair = {}
        for condition, competitors in (("idle", 0), ("busy", args.competitors)):
            seconds, status = run_suite(args.suite, competitors, args.workers)
            pair[condition] = seconds
            print(f"round {round_ + 1} {condition}: {seconds:.1f} s (exit {status})", flush=True)
            rows.append(
                {
                    "round": round_ + 1,
                    "condition": condition,
                    "competing processes": competitors,
                    "wall s": seconds,
                    "exit": status,
                }
            )
        rows.append(
            {
                "round": round_ + 1,
                "condition": "busy / idle",
                "competing processes": args.competitors,
                "wall s": pair["busy"] / pair["idle"],
                "exit": "",
            }
        )
    ratios = [r["wall s"] for r in rows if r["condition"] == "busy / idle"]
    worst = max(ratios)
    text = header("A validation suite on an idle and on a busy machine") + "\n".join(
        [
            f"Suite `{args.suite}`, each run generating its data afresh; busy = "
            f"{args.competitors} process(es) running `while True: pass` beside it.",
            "",
            markdown_table(rows),
            f"Worst busy / idle ratio: {worst:.2f} (goal: at most 2.5): "
            f"**{'met' if worst <= 2.5 else 'missed'}**.",
            "",
        ]
    )
    path = write_report(args.out, text)
    print(text)
    print(f"wrote {path}")
    return 0 if worst <= 2.5 else 1


if __name__ == "__main__":
    sys.exit(main())
