"""Find, run and check the ```python blocks of README.md and docs/**/*.md.

A page's blocks run in order in one fresh interpreter (this file run as a script, in a
temporary folder), as a reader who pastes them one after another into a session would.
Marks are HTML comments on the line just before a fence; every ``slow``/``gpu`` mark
says why in parentheses::

    <!-- docs: slow (3 minutes on 2 cores) -->       run only by the slow docs job
    <!-- docs: gpu (asks for device="cuda") -->      slow job, and only where CUDA exists
    <!-- docs: output rtol=0.2 -->                   before a ```text block: what the
                                                     previous python block prints
    <!-- docs: file heat_solver.py -->               the block (python or toml) is a file
                                                     the reader saves under that name:
                                                     written to the folder the page runs
                                                     in, not run

An ``output`` block is matched against what its python block printed: text outside
numbers must agree (runs of white space are equal, ``...`` matches anything), integers
exactly, and every number with a decimal point or an exponent within ``rtol``/``atol``
of the quoted one, or inside ``range=lo..hi``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Printed on stdout before each block, so that the output of each can be told apart.
SENTINEL = "@@pdeml-docs-block@@ "
_FENCE = re.compile(r"^```(\S*)\s*$")
_MARK = re.compile(r"^<!--\s*docs:\s*(\S+)(.*?)-->\s*$")
_NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
_KINDS = ("slow", "gpu", "output", "file")


@dataclasses.dataclass
class Block:
    """One fenced ```python block, its marks, and the output its page quotes for it."""

    page: Path
    line: int  # 1-based line of the first code line
    code: str
    slow: str | None = None  # the reason, when marked slow
    gpu: str | None = None  # the reason, when it needs CUDA
    expected: str | None = None  # the ```text block marked as its output
    rtol: float = 0.0
    atol: float = 0.0
    value_range: tuple[float, float] | None = None
    file: str | None = None  # the file name, when the block is a module to save

    @property
    def where(self) -> str:
        """``page:line`` relative to the repository, for messages and test ids."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _parse_output_options(text: str, where: str) -> dict:
    options: dict = {}
    for item in text.split():
        key, _, value = item.partition("=")
        if key in ("rtol", "atol"):
            options[key] = float(value)
        elif key == "range":
            low, _, high = value.partition("..")
            options["value_range"] = (float(low), float(high))
        else:
            raise ValueError(f"{where}: unknown output option {item!r}")
    return options


def _file_name(text: str, where: str) -> str:
    if not re.fullmatch(r"[\w.-]+\.(py|toml)", text):
        raise ValueError(f"{where}: a file mark names a file such as solver.py or suite.toml")
    return text


def parse(page: Path) -> list[Block]:
    """The python blocks of ``page``, with their marks; a malformed mark raises ValueError."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        where = f"{page.relative_to(ROOT)}:{i + 1}"
        mark = _MARK.match(lines[i - 1].strip()) if i > 0 else None
        kind, rest = (mark.group(1), mark.group(2).strip()) if mark else (None, "")
        if kind is not None and kind not in _KINDS:
            raise ValueError(f"{where}: unknown docs mark {kind!r} (known: {_KINDS})")
        body = "\n".join(lines[i + 1 : end])
        if fence.group(1) == "python":
            block = Block(page, i + 2, body + "\n")
            if kind in ("slow", "gpu"):
                if not re.fullmatch(r"\(.+\)", rest):
                    raise ValueError(f"{where}: a {kind} mark says why, in parentheses")
                setattr(block, kind, rest[1:-1])
            elif kind == "output":
                raise ValueError(f"{where}: an output mark goes before a ```text block")
            elif kind == "file":
                block.file = _file_name(rest, where)
            blocks.append(block)
        elif kind == "file" and fence.group(1) == "toml":
            blocks.append(Block(page, i + 2, body + "\n", file=_file_name(rest, where)))
        elif kind == "output":
            if fence.group(1) != "text" or not blocks:
                raise ValueError(f"{where}: an output mark needs a ```text block after python")
            if blocks[-1].expected is not None:
                raise ValueError(f"{where}: {blocks[-1].where} has two output blocks")
            blocks[-1].expected = body
            for key, value in _parse_output_options(rest, where).items():
                setattr(blocks[-1], key, value)
        elif kind is not None:
            raise ValueError(f"{where}: a {kind} mark goes before a ```python block")
        i = end + 1
    return blocks


def block_seconds(stdout: str) -> list[float]:
    """Wall seconds each block took, from the driver's stdout."""
    stamps = [float(line.split()[-1]) for line in stdout.splitlines() if line.startswith(SENTINEL)]
    return [b - a for a, b in itertools.pairwise(stamps)]


def split_output(stdout: str) -> dict[int, str]:
    """What each block printed, by its index, from the driver's stdout."""
    printed: dict[int, str] = {}
    index = None
    for line in stdout.splitlines(keepends=True):
        if line.startswith(SENTINEL):
            index = int(line[len(SENTINEL) :].split()[0])
            printed[index] = ""
        elif index is not None:
            printed[index] += line
    return printed


def compare(block: Block, printed: str) -> str | None:
    """Why ``printed`` does not match the page's quoted output, or None when it does."""
    assert block.expected is not None
    pattern, quoted = "", []
    for token in re.split(rf"(\.\.\.|\s+|{_NUMBER})", block.expected.strip()):
        if not token:
            continue
        if token == "...":
            pattern += r".*?"
        elif token.isspace():
            pattern += r"\s+"
        elif re.fullmatch(_NUMBER, token):
            pattern += f"({_NUMBER})"
            quoted.append(token)
        else:
            pattern += re.escape(token)
    match = re.fullmatch(pattern, printed.strip(), flags=re.DOTALL)
    if not match:
        return f"printed\n{printed}\ndoes not have the form the page quotes\n{block.expected}"
    for want, got in zip(quoted, match.groups(), strict=True):
        if not re.search(r"[.eE]", want):  # an integer (a shape, a count): exactly
            ok = int(want) == float(got)
        elif block.value_range is not None:
            ok = block.value_range[0] <= float(got) <= block.value_range[1]
        else:
            ok = math.isclose(float(got), float(want), rel_tol=block.rtol, abs_tol=block.atol)
        if not ok:
            tolerance = (
                f"range {block.value_range}"
                if block.value_range
                else f"rtol={block.rtol}, atol={block.atol}"
            )
            return f"printed {got} where the page quotes {want} ({tolerance})\n{printed}"
    return None


def _run(spec_file: str) -> None:
    """Driver: execute the blocks of a spec in one fresh ``__main__`` namespace."""
    import builtins
    import os
    import time
    import types

    spec = json.loads(Path(spec_file).read_text(encoding="utf-8"))
    # A reader's script runs as __main__ from the folder it sits in; this driver's own
    # names (json, Path, ...) must not leak into the blocks and hide a missing import.
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    # The blocks as one script, as a reader saves them: a spawned worker process that
    # re-imports the main module runs this file, guard-less like the reader's.
    main.__dict__["__file__"] = spec["script"]
    sys.modules["__main__"] = main
    sys.path[0] = os.getcwd()
    for index, (page, line, code) in enumerate(spec["blocks"]):
        sys.stdout.flush()
        sys.stdout.write(f"{SENTINEL}{index} {time.perf_counter():.3f}\n")
        sys.stdout.flush()
        # Padding puts each line at its page line, so a traceback names the page's line.
        exec(compile("\n" * (line - 1) + code, page, "exec"), main.__dict__)
    sys.stdout.flush()
    sys.stdout.write(f"{SENTINEL}{len(spec['blocks'])} {time.perf_counter():.3f}\n")


if __name__ == "__main__":
    _run(sys.argv[1])
