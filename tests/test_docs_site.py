"""The documentation site's configuration matches the pages, without building it.

CI builds the site with ``mkdocs build --strict`` (broken links and references fail
there); these checks are the quick part a contributor sees in ``pytest``: every page is in
the navigation, every API reference target imports, every gallery figure is shown.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GALLERY = DOCS / "gallery"


def nav_pages(entries: list) -> list[str]:
    """Page paths named anywhere in a mkdocs ``nav`` (nested lists and one-key mappings)."""
    pages = []
    for entry in entries:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            pages.extend(nav_pages(value) if isinstance(value, list) else [value])
    return pages


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


def test_every_page_is_in_the_navigation_and_every_entry_exists(config: dict) -> None:
    listed = nav_pages(config["nav"])
    pages = sorted(str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md"))
    assert sorted(set(listed)) == pages
    assert len(listed) == len(set(listed)), "a page is listed twice"


def test_api_reference_targets_import() -> None:
    targets = [
        match
        for page in (DOCS / "reference").glob("*.md")
        for match in re.findall(r"^::: ([\w.]+)$", page.read_text(encoding="utf-8"), re.M)
    ]
    assert targets
    for target in targets:
        module, _, name = target.rpartition(".")
        try:
            importlib.import_module(target)
        except ModuleNotFoundError:
            assert hasattr(importlib.import_module(module), name), target


def test_gallery_figures_are_shown_and_exist() -> None:
    shown = {
        image
        for page in GALLERY.glob("*.md")
        for image in re.findall(r"\]\((images/[^)]+\.png)\)", page.read_text(encoding="utf-8"))
    }
    made = {str(path.relative_to(GALLERY)) for path in (GALLERY / "images").glob("*.png")}
    assert shown == made
