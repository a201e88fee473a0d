"""Start-up time: ``import pdeml`` and ``pdeml --help``, this checkout against a baseline one.

Each round runs every command once with this checkout's package and once with the
baseline's (``PYTHONPATH`` puts the baseline first), alternating which goes first, in fresh
interpreters with warm file caches. The table gives medians with the spread and the
median of the per-round ratios (this checkout / baseline), so a drift of the machine's
speed during the run cancels out.

Usage::

    git worktree add /tmp/pdeml-before <commit>
    python validation/benchmarks/startup.py --baseline /tmp/pdeml-before --rounds 30 --write
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
COMMANDS = {
    "import pdeml": [sys.executable, "-c", "import pdeml"],
    "pdeml --help": [sys.executable, "-m", "pdeml.cli", "--help"],
    "import pdeml; load_problem": [
        sys.executable,
        "-c",
        "import pdeml; pdeml.load_problem('darcy', size='quick')",
    ],
}


def _time(command: list[str], checkout: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(checkout), OMP_NUM_THREADS="1")
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd="/")
    return time.perf_counter() - start


def _heavy_modules(checkout: Path) -> str:
    """Which heavy libraries ``import pdeml`` loads (it should load none of them)."""
    probe = (
        "import sys, pdeml; print(','.join(m for m in ('torch', 'dask', 'numba', 'scipy', "
        "'h5py', 'xarray', 'matplotlib') if m in sys.modules) or 'none')"
    )
    env = dict(os.environ, PYTHONPATH=str(checkout))
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd="/"
    )
    return out.stdout.strip()


def measure(baseline: Path, rounds: int) -> list[dict[str, object]]:
    """Median seconds per command for both checkouts, and the paired ratio."""
    rows = []
    for label, command in COMMANDS.items():
        for checkout in (HERE, baseline):  # warm the file cache and bytecode for both
            _time(command, checkout)
        ours, theirs, ratios = [], [], []
        for i in range(rounds):
            order = (HERE, baseline) if i % 2 == 0 else (baseline, HERE)
            seconds = {checkout: _time(command, checkout) for checkout in order}
            ours.append(seconds[HERE])
            theirs.append(seconds[baseline])
            ratios.append(seconds[HERE] / seconds[baseline])
        rows.append(
            {
                "command": label,
                "this checkout (s)": statistics.median(ours),
                "spread": f"{min(ours):.3f}-{max(ours):.3f}",
                "baseline (s)": statistics.median(theirs),
                "spread ": f"{min(theirs):.3f}-{max(theirs):.3f}",
                "ratio (median of rounds)": statistics.median(ratios),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="checkout to compare to")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="write validation/reports/startup.md")
    args = parser.parse_args()
    baseline = args.baseline.resolve()
    if not (baseline / "pdeml" / "__init__.py").is_file():
        parser.error(f"--baseline: {baseline} holds no pdeml package")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _report import header, markdown_table, write_report

    commit = subprocess.run(
        ["git", "-C", str(baseline), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    rows = measure(baseline, args.rounds)
    text = "\n".join(
        [
            header("Start-up time against a baseline checkout"),
            f"Baseline: commit {commit or '?'} ({baseline}); {args.rounds} alternated rounds "
            "per command, fresh interpreter each run, OMP_NUM_THREADS=1.",
            "",
            markdown_table(rows),
            f"Heavy libraries loaded by `import pdeml`: this checkout: {_heavy_modules(HERE)}; "
            f"baseline: {_heavy_modules(baseline)}.",
            "",
        ]
    )
    print(text)
    if args.write:
        print("written:", write_report("startup", text))


if __name__ == "__main__":
    main()
