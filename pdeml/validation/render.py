"""Rendering the report's blocks (headings, paragraphs, tables, figures) to Markdown and HTML.

The HTML page is self-contained: inline CSS, figures embedded as base64 PNG data URIs, and
every piece of text escaped.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import html
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path


# -- the page as blocks ------------------------------------------------------------------
@dataclasses.dataclass
class Heading:
    level: int
    text: str


@dataclasses.dataclass
class Para:
    text: str
    strong: str = ""


@dataclasses.dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    status_column: int | None = None
    groups: list[int] | None = None  # rows of one entry share a group: one shade, no rule


@dataclasses.dataclass
class Pre:
    text: str


@dataclasses.dataclass
class Items:
    items: list[tuple[str, str]]  # (term in bold, text)


@dataclasses.dataclass
class FigureBlock:
    path: str  # relative to the report
    caption: str
    png: bytes


Block = Heading | Para | Table | Pre | Items | FigureBlock


def md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + block.text.replace("\n", " "))
        elif isinstance(block, Para):
            out.append((f"**{block.strong}** " if block.strong else "") + block.text)
        elif isinstance(block, Table):
            align = ["---:" if n else "---" for n in block.numeric]
            lines = [block.headers, align, *block.rows]
            out.append("\n".join("| " + " | ".join(map(md_cell, r)) + " |" for r in lines))
        elif isinstance(block, Pre):
            fence = "`" * max(3, 1 + max((len(m) for m in re.findall("`+", block.text)), default=0))
            out.append(f"{fence}text\n{block.text.rstrip()}\n{fence}")
        elif isinstance(block, Items):
            out.append("\n".join(f"- **{t}**: {x}" if t else f"- {x}" for t, x in block.items))
        elif isinstance(block, FigureBlock):
            out.append(f"![{Path(block.path).stem}]({block.path})\n\n{block.caption}")
    return "\n\n".join(out) + "\n"


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  max-width: 1280px; margin: 2rem auto; padding: 0 1.5rem; color: #1f2328; background: #fff;
  line-height: 1.5; font-size: 15px; }
h1 { font-size: 1.8rem; border-bottom: 2px solid #d0d7de; padding-bottom: .3rem; }
h2 { font-size: 1.4rem; margin-top: 2.6rem; border-bottom: 1px solid #d0d7de;
  padding-bottom: .2rem; }
h3 { font-size: 1.12rem; margin-top: 1.8rem; }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .84rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .45rem; vertical-align: top; }
th { background: #f3f5f7; text-align: left; font-weight: 600; vertical-align: bottom; }
th.num { text-align: right; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td:first-child { white-space: nowrap; }
tr.alt td { background: #f6f8fa; }
tr.cont td { border-top-style: hidden; }
td.failed { color: #b42318; font-weight: 600; }
td.ok { color: #1a7f37; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 4px; padding: .6rem .8rem;
  font-size: .82rem; white-space: pre-wrap; word-break: break-word; max-height: 24rem;
  overflow: auto; }
ul { padding-left: 1.4rem; }
li { margin: .25rem 0; }
figure { margin: 1.4rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { font-size: .88rem; color: #59636e; margin-top: .3rem; }
"""


#: Cells of a table's status column that are coloured: green for good, red for bad.
_STATUS_CLASS = {"ok": "ok", "failed": "failed", "met": "ok", "MISSED": "failed"}


def render_html(blocks: Sequence[Block], title: str) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title>",
        f"<style>{CSS}</style></head>",
        "<body>",
    ]
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{e(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            strong = f"<strong>{e(block.strong)}</strong> " if block.strong else ""
            out.append(f"<p>{strong}{e(block.text)}</p>")
        elif isinstance(block, Table):
            head = "".join(
                f"<th{' class=num' if n else ''}>{e(h)}</th>"
                for h, n in zip(block.headers, block.numeric)
            )
            body = []
            groups = block.groups or list(range(len(block.rows)))
            for r, row in enumerate(block.rows):
                cells = []
                for i, (cell, numeric) in enumerate(zip(row, block.numeric)):
                    cls = "num" if numeric else ""
                    if i == block.status_column and cell in _STATUS_CLASS:
                        cls = _STATUS_CLASS[cell]
                    attr = f' class="{cls}"' if cls else ""
                    cells.append(f"<td{attr}>{e(cell)}</td>")
                shade = ["alt"] if groups[r] % 2 else []
                if r and groups[r] == groups[r - 1]:
                    shade.append("cont")
                attr = f' class="{" ".join(shade)}"' if shade else ""
                body.append(f"<tr{attr}>" + "".join(cells) + "</tr>")
            out.append(
                f'<div class="wrap"><table><thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table></div>"
            )
        elif isinstance(block, Pre):
            out.append(f"<pre>{e(block.text.rstrip())}</pre>")
        elif isinstance(block, Items):
            items = "".join(
                f"<li><strong>{e(t)}</strong>: {e(x)}</li>" if t else f"<li>{e(x)}</li>"
                for t, x in block.items
            )
            out.append(f"<ul>{items}</ul>")
        elif isinstance(block, FigureBlock):
            data = base64.b64encode(block.png).decode("ascii")
            out.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{e(block.caption)}">'
                f"<figcaption>{e(block.caption)}</figcaption></figure>"
            )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- files -------------------------------------------------------------------------------
def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, so a reader never sees half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
