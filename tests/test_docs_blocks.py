"""Every ```python block of README.md and docs/ runs, and prints what its page quotes.

One test per page runs the page's blocks in order in one fresh interpreter, in a
temporary folder (see ``tests/docs_blocks.py`` for the marks). These tests are ``slow``
(a few seconds to a minute each: CI runs them, ``pytest -m "not slow"`` does not). Blocks
marked ``slow`` or ``gpu`` in a page run only in the slow docs job (``.ci/run-docs-slow``),
where a second test, marked ``docs_slow``, runs the whole page::

    PDEML_DOCS_SLOW=1 python -m pytest -m docs_slow tests/test_docs_blocks.py

That job is separate because CI (``python -m pytest``) runs every test, and those blocks
take minutes or a GPU.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
# docs_blocks is a helper beside this file (tests/ is not a package).
import docs_blocks
from docs_blocks import ROOT, Block, compare, pages, parse, split_output

#: Files a page's blocks must leave behind, relative to the folder they ran in.
LEFT_BEHIND = {
    "README.md": ["data/darcy.h5", "runs/darcy-fno"],
    "docs/api.md": ["heat.h5"],
}
SLOW_JOB = os.environ.get("PDEML_DOCS_SLOW") == "1"
TIMEOUT_SECONDS = 1800


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _cases() -> list:
    cases = []
    for page in pages():
        blocks = parse(page)
        name = str(page.relative_to(ROOT))
        if any(b.slow is None and b.gpu is None for b in blocks):
            cases.append(pytest.param(page, False, id=name, marks=pytest.mark.slow))
        if any(b.slow is not None or b.gpu is not None for b in blocks):
            marks = [pytest.mark.slow, pytest.mark.docs_slow]
            cases.append(pytest.param(page, True, id=f"{name}(slow-job)", marks=marks))
    return cases


def _run_blocks(
    blocks: list[Block], folder: Path, files: list[Block] = ()
) -> subprocess.CompletedProcess:
    # The pages run their examples from the repository root, where the suites are.
    shutil.copytree(ROOT / "validation" / "suites", folder / "validation" / "suites")
    # Modules the page asks the reader to save (file marks) are saved, not run.
    for block in files:
        (folder / str(block.file)).write_text(block.code, encoding="utf-8")
    script = folder / "page_blocks.py"
    script.write_text("\n".join(b.code for b in blocks), encoding="utf-8")
    spec = folder / "page_blocks.json"
    spec.write_text(
        json.dumps(
            {"script": str(script), "blocks": [[str(b.page), b.line, b.code] for b in blocks]}
        ),
        encoding="utf-8",
    )
    return subprocess.run(
        [sys.executable, docs_blocks.__file__, str(spec)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


def test_every_mark_is_understood_and_every_page_has_its_blocks_collected() -> None:
    blocks = [b for page in pages() for b in parse(page)]  # raises on a malformed mark
    assert len(blocks) >= 30, [b.where for b in blocks]
    for page in LEFT_BEHIND:
        assert parse(ROOT / page), f"{page}: no python block left"
    # The README's example is a plain script on purpose: generation must not need a guard.
    assert "__main__" not in parse(ROOT / "README.md")[0].code


@pytest.mark.parametrize(("page", "slow"), _cases())
def test_page_blocks_run_and_print_what_the_page_quotes(
    page: Path, slow: bool, tmp_path: Path
) -> None:
    blocks = parse(page)
    if slow:
        if not SLOW_JOB:
            pytest.skip("the slow docs job only: PDEML_DOCS_SLOW=1 pytest -m docs_slow")
        if not _has_cuda():
            blocks = [b for b in blocks if b.gpu is None]
            if all(b.slow is None for b in blocks):
                pytest.skip("its marked blocks need CUDA; the rest runs in CI")
    else:
        blocks = [b for b in blocks if b.slow is None and b.gpu is None]
    files = [b for b in blocks if b.file is not None]
    blocks = [b for b in blocks if b.file is None]
    result = _run_blocks(blocks, tmp_path, files)
    listing = "\n".join(f"  block {i}: {b.where}" for i, b in enumerate(blocks))
    assert result.returncode == 0, f"{listing}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    # A worker's traceback printed and swallowed is a failure too (generation workers).
    assert "Traceback" not in result.stderr, result.stderr[-5000:]
    printed = split_output(result.stdout)
    for index, block in enumerate(blocks):
        if block.expected is not None:
            problem = compare(block, printed.get(index, ""))
            assert problem is None, f"{block.where}: {problem}"
    for name in LEFT_BEHIND.get(str(page.relative_to(ROOT)), []):
        assert (tmp_path / name).exists(), f"{page.name}: {name} was not written"


def test_output_blocks_are_compared_with_their_tolerance() -> None:
    block = Block(ROOT / "README.md", 1, "", expected="error: 0.084 shape (4, 29)")
    block.value_range = (0.04, 0.16)
    assert compare(block, "error: 0.123 shape (4, 29)\n") is None
    assert "0.2" in compare(block, "error: 0.2 shape (4, 29)")
    assert compare(block, "error: 0.1 shape (4, 30)") is not None  # integers exactly
    assert compare(block, "loss: 0.1 shape (4, 29)") is not None  # the words too
    block.value_range, block.rtol = None, 0.1
    assert compare(block, "error: 0.09 shape (4, 29)") is None
    assert compare(block, "error: 0.1 shape (4, 29)") is not None
    block.expected = "Dimensions: ...\nerror 1.5e-2"
    assert compare(block, "Dimensions:  (sample: 4)\n  x: 29\nerror   0.0151") is None
