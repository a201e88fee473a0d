"""The own-PDE walk-through of docs/own_problem.md at a size whose numbers mean something.

The page's files (the py-pde Allen–Cahn solver, its TOML preset and validation suite) are
taken from the page itself (its ``<!-- docs: file ... -->`` blocks), so the study and the
docs cannot drift apart. The suite is then scaled up and run: data generated with the
user's solver, the reference ladder of that solver over resolutions against a finer one,
FNO and U-Net trained, and the report with the speed-up at equal accuracy.

Sizes: ``medium`` (the committed report: 300 samples at 32², ladder 16/32/64 against 128,
100 epochs; about a quarter of an hour on 2 CPU cores) and ``useful`` (1000 samples at 64²,
as the page's slow block; hours on 2 CPU cores).

Run (resumable: finished entries in the output folder are kept)::

    python validation/studies/own_problem.py --size medium --out validation/reports/own_problem

It writes the report into ``--out`` (report.md, report.html, figures, results.nc) and the
working files into ``--work``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "own_problem.md"

#: Per size: replacements applied to the page's preset and suite texts.
SIZES: dict[str, dict[str, list[tuple[str, str]]]] = {
    "medium": {
        "allen_cahn.toml": [("resolution = 16\n", "resolution = 32\n")],
        "allen_cahn_suite.toml": [
            ("n_train = 40", "n_train = 270"),
            ("n_test = 8", "n_test = 30"),
            (
                "resolutions = [16, 32], truth_resolution = 64, samples = 2",
                "resolutions = [32, 64], truth_resolution = 128, samples = 4",
            ),
            ("epochs = 20", "epochs = 100"),
            ("modes = 6, width = 12", "modes = 12, width = 24"),
            ("width = 8, levels = 2", "width = 16, levels = 3"),
        ],
    },
    "useful": {
        "allen_cahn_suite.toml": [
            ('size = "quick"', 'size = "useful"'),
            ("n_train = 40", "n_train = 900"),
            ("n_test = 8", "n_test = 100"),
            (
                "resolutions = [16, 32], truth_resolution = 64",
                "resolutions = [64, 128], truth_resolution = 256",
            ),
            ("epochs = 20", "epochs = 200"),
            ("modes = 6", "modes = 12"),
        ],
    },
}


def page_files() -> dict[str, str]:
    """The files the page asks the reader to save, by name."""
    sys.path.insert(0, str(ROOT / "tests"))
    from docs_blocks import parse  # the docs test's own parser: one reading of the marks

    return {block.file: block.code for block in parse(PAGE) if block.file is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument("--out", type=Path, default=ROOT / "validation/reports/own_problem")
    parser.add_argument("--work", type=Path, default=Path("data/own_problem"))
    args = parser.parse_args()
    out = args.out.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    files = page_files()
    for name, changes in SIZES[args.size].items():
        for old, new in changes:
            if old not in files[name]:
                raise SystemExit(f"{PAGE.name}: {name} no longer holds {old!r}; update SIZES")
            files[name] = files[name].replace(old, new)
    for name, text in files.items():
        (args.work / name).write_text(text, encoding="utf-8")
    # The suite names its preset and the preset its solver module relative to the folder
    # the reader works in: run from there.
    os.chdir(args.work)
    sys.path.insert(0, "")
    import pdeml

    paths = pdeml.validate("allen_cahn_suite.toml", out=out, workers=1)
    print(f"report: {paths['report_md']}")


if __name__ == "__main__":
    main()
