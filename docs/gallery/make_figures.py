"""Run the gallery pages and save the figures they draw, next to them in ``images/``.

Each page of ``docs/gallery/`` is a worked example whose ```` ```python ```` blocks run in
order in one interpreter (as the documentation tests run them). This script runs the
blocks of a page as one script, in a fresh interpreter and a temporary folder, and saves
every figure left open at the end as ``images/<page>_<k>.png`` (``k`` counts from 1 in the
order the figures were made), the names the pages show. Run it after changing a page::

    python docs/gallery/make_figures.py                 # every page
    python docs/gallery/make_figures.py fno_darcy       # one page

It prints the seconds each page took: a page should run in under a minute on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GALLERY = Path(__file__).resolve().parent
IMAGES = GALLERY / "images"
BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)

# Runs before the page's code: a display-free backend, and no figure-count warning.
PROLOGUE = """\
import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["figure.max_open_warning"] = 0
"""

# Runs after it: save the open figures, small enough to commit.
EPILOGUE = """\
import matplotlib.pyplot as _plt

for _k, _number in enumerate(_plt.get_fignums(), start=1):
    _plt.figure(_number).savefig({images!r} + f"/{stem}_{{_k}}.png", dpi=80)
    print("saved", {stem!r} + f"_{{_k}}.png")
"""


def pages() -> list[str]:
    """Names of the gallery pages with code, without ``.md``."""
    return sorted(
        path.stem for path in GALLERY.glob("*.md") if BLOCK.search(path.read_text(encoding="utf-8"))
    )


def page_script(stem: str) -> str:
    """The page's python blocks, in order, between the prologue and the epilogue."""
    text = (GALLERY / f"{stem}.md").read_text(encoding="utf-8")
    blocks = BLOCK.findall(text)
    epilogue = EPILOGUE.format(images=str(IMAGES), stem=stem)
    return "\n".join([PROLOGUE, *blocks, epilogue])


def run_page(stem: str) -> float:
    """Run one page in a temporary folder; return its seconds. Raises on failure."""
    IMAGES.mkdir(exist_ok=True)
    for old in IMAGES.glob(f"{stem}_*.png"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix=f"gallery-{stem}-") as folder:
        script = Path(folder) / f"{stem}.py"
        script.write_text(page_script(stem), encoding="utf-8")
        start = time.perf_counter()
        subprocess.run([sys.executable, str(script)], cwd=folder, check=True, env=os.environ)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", help="page names (default: every page with code)")
    names = parser.parse_args(argv).pages or pages()
    for stem in names:
        seconds = run_page(stem)
        print(f"{stem}: {seconds:.1f} s")


if __name__ == "__main__":
    main()
