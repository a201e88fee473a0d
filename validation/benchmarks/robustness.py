"""Robustness: user mistakes at the command line and in the API, and interrupted commands.

Runs every case of :mod:`pdeml.testing.fuzz_cases` (each in a fresh copy of small fixture
files) and the signal trials of :mod:`pdeml.testing.kills`, then writes
``validation/reports/robustness.md``: counts of tracebacks, hangs, destroyed or half-written
files, runs that could not resume, and messages that do not name what was wrong.

    python validation/benchmarks/robustness.py          # full run (about 30 min, 2 cores)
    python validation/benchmarks/robustness.py --quick  # in-process, 2 trials each

The full run executes command-line cases as real ``python -m pdeml.cli`` processes, as a
user would; ``--quick`` runs them in one process (what CI's ``tests/test_robustness.py`` does).
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import header, markdown_table, write_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="in-process cases, 2 trials each")
    parser.add_argument("--trials", type=int, help="signal trials per command (default 20)")
    parser.add_argument("--select", default="", help="only cases whose id starts with this")
    parser.add_argument("--no-trials", action="store_true", help="cases only")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a hang")
    parser.add_argument("--out", default="robustness", help="report name under reports/")
    args = parser.parse_args()

    from pdeml.testing.cases import all_cases
    from pdeml.testing.fixtures import build_fixtures
    from pdeml.testing.fuzz import FAILURES, run_cases, summarize
    from pdeml.testing.kills import COMMANDS, run_trials

    mode = "inprocess" if args.quick else "subprocess"
    trials_per = args.trials if args.trials is not None else (2 if args.quick else 20)
    fixtures = build_fixtures(Path(tempfile.mkdtemp(prefix="pdeml-fixtures-")) / "fx")
    cases = [c for c in all_cases() if c.id.startswith(args.select)]
    begin = time.perf_counter()
    results = run_cases(cases, fixtures, mode=mode, timeout=args.timeout, progress=True)
    case_seconds = time.perf_counter() - begin
    trials, durations = [], {}
    if not args.no_trials and trials_per > 0:
        begin = time.perf_counter()
        trials, durations = run_trials(list(COMMANDS), trials_per, fixtures, progress=True)
        trial_seconds = time.perf_counter() - begin
    else:
        trial_seconds = 0.0

    counts = summarize(results)
    lines = [header("Robustness: user mistakes and interrupted commands")]
    lines.append(
        f"{counts['cases']} cases ({mode}: command-line cases "
        f"{'in one process' if mode == 'inprocess' else 'as separate processes'}), "
        f"{case_seconds:.0f} s; {len(trials)} signal trials, {trial_seconds:.0f} s.\n"
    )
    lines.append("## Cases\n")
    lines.append(
        "A case fails for a **traceback** (an exception that is not a clear user error, or "
        "Python's traceback printed), a **hang** (no answer within "
        f"{args.timeout:.0f} s), **files** (a fixture changed or removed, a temporary or "
        "partial file left, or new files after an error), a wrong **outcome** (success for a "
        "mistake, failure for a valid command) or a **vague** message (one that does not name "
        "the argument, file or key).\n"
    )
    rows = []
    by_group = collections.defaultdict(list)
    for result in results:
        by_group[result.id.split("/")[0]].append(result)
    for group, group_results in by_group.items():
        c = summarize(group_results)
        rows.append({"group": group, **c})
    rows.append({"group": "**all**", **counts})
    lines.append(markdown_table(rows))
    failed = [r for r in results if r.failures]
    if failed:
        lines.append("\n### Failing cases\n")
        for r in failed:
            lines.append(f"- `{r.id}`: {', '.join(r.failures)}. message: `{r.message[:200]}`")
            if r.detail:
                lines.append(f"  - {r.detail.strip().splitlines()[-1][:300]}")
    if trials:
        lines.append("\n## Signal trials\n")
        lines.append(
            "Each trial starts the command, sends the signal after a random delay between "
            "0.5 s and the uninterrupted duration, checks the exit (SIGINT: out within 30 s, "
            "no traceback) and the output path (nothing, or a complete result equal to the "
            "reference), then runs the same command again (`train` with `--resume`) and "
            "checks that it succeeds with the reference output and leaves no temporary file. "
            "A trial that neither finished before the signal nor was resumed found the output "
            "already complete at its final path (written before the signal arrived, then "
            "compared with the reference): nothing was left to resume.\n"
        )
        trial_rows = []
        for command in COMMANDS:
            for sig in ("SIGKILL", "SIGINT"):
                sel = [t for t in trials if t.command == command and t.signal == sig]
                if not sel:
                    continue
                kinds = collections.Counter(f for t in sel for f in t.failures)
                trial_rows.append(
                    {
                        "command": command,
                        "signal": sig,
                        "trials": len(sel),
                        "uninterrupted s": durations.get(command, float("nan")),
                        "finished first": sum(t.finished_before_signal for t in sel),
                        "resumed": sum(t.rerun_exit == 0 for t in sel),
                        "traceback": kinds["traceback"],
                        "hang": kinds["hang"],
                        "files": kinds["files"],
                        "cannot resume": kinds["resume"],
                    }
                )
        lines.append(markdown_table(trial_rows))
        bad = [t for t in trials if t.failures]
        if bad:
            lines.append("\n### Failing trials\n")
            for t in bad:
                lines.append(
                    f"- {t.command} {t.signal} after {t.delay:.2f} s: {', '.join(t.failures)}: "
                    f"{t.detail.strip()[-300:]}"
                )
    total_failures = len(failed) + sum(bool(t.failures) for t in trials)
    lines.append(
        f"\n**Result: {total_failures} failing "
        f"({', '.join(f'{k} {counts[k]}' for k in FAILURES)} among cases).**\n"
    )
    path = write_report(args.out, "\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {path}")
    return 1 if total_failures else 0


if __name__ == "__main__":
    sys.exit(main())
