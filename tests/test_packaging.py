"""The package as a user installs it: one version, data files inside the wheel, and which
copy of pdeml the tests import.

CI builds the sdist and the wheel with ``python -m build`` into ``$PDEML_DIST``, installs
the checkout as a wheel (not editable) and sets ``PDEML_EXPECT_INSTALLED=1``, so that the
suite runs against the installed copy in site-packages rather than the checkout.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import pdeml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted(p.name for p in (ROOT / "pdeml" / "presets").glob("*.toml"))


PURELIB = Path(sysconfig.get_paths()["purelib"]).resolve()


def _installed() -> importlib.metadata.Distribution:
    """pdeml's metadata in this environment's site-packages.

    Looked up there only: ``python -m pytest`` puts the checkout on the path, and with it
    any ``pdeml.egg-info`` a build left there.
    """
    found = list(importlib.metadata.distributions(name="pdeml", path=[str(PURELIB)]))
    if not found:
        pytest.skip("pdeml is not installed in this environment")
    return found[0]


def _editable() -> bool:
    """Whether pdeml is installed editable (``pip install -e``)."""
    text = _installed().read_text("direct_url.json")
    return bool(json.loads(text or "{}").get("dir_info", {}).get("editable", False))


def test_version_is_written_in_one_place():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"], "the version belongs in pdeml/_version.py"
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "pdeml._version.__version__"
    }
    assert _installed().version == pdeml.__version__, (
        "installed metadata and pdeml/_version.py differ: reinstall (pip install ...)"
    )


def test_pdeml_version_prints_the_version():
    # The console script beside this interpreter: proves the entry point is installed.
    script = Path(sys.executable).with_name("pdeml")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "pdeml"]
    done = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == f"pdeml {pdeml.__version__}"


def test_tests_import_the_installed_copy():
    """CI tests the installed wheel; a contributor's editable install tests the checkout."""
    here = Path(pdeml.__file__).resolve().parent
    if os.environ.get("PDEML_EXPECT_INSTALLED"):
        assert not _editable(), "CI should test a wheel install, not an editable one"
    if _editable():
        assert here == ROOT / "pdeml"
    else:
        assert here == PURELIB / "pdeml", f"pdeml imported from {here}, not site-packages"
        # The installed wheel carries the presets (load_problem reads them from there).
        files = {str(f) for f in _installed().files or []}
        assert {f"pdeml/presets/{name}" for name in PRESETS} <= files


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist and wheel of CI's ``python -m build`` ($PDEML_DIST), or built here."""
    given = os.environ.get("PDEML_DIST")
    if given:
        return Path(given)
    if importlib.util.find_spec("build") is None or importlib.util.find_spec("setuptools") is None:
        pytest.skip("needs the 'build' and 'setuptools' packages (pip install '.[test]')")
    out = tmp_path_factory.mktemp("dist")
    # No isolation: builds offline from the setuptools already installed.
    subprocess.run(
        [
            *(sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check"),
            *("--outdir", str(out), str(ROOT)),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


@pytest.mark.slow
def test_wheel_and_sdist_ship_the_presets_and_the_version(dist: Path):
    version = pdeml.__version__
    wheel = dist / f"pdeml-{version}-py3-none-any.whl"
    sdist = dist / f"pdeml-{version}.tar.gz"
    assert wheel.exists() and sdist.exists(), sorted(p.name for p in dist.iterdir())
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(f"pdeml-{version}.dist-info/METADATA").decode()
        entry_points = zf.read(f"pdeml-{version}.dist-info/entry_points.txt").decode()
    assert {f"pdeml/presets/{name}" for name in PRESETS} <= names
    assert "pdeml/_version.py" in names and "pdeml/cli/app.py" in names
    assert not any(name.startswith("tests/") for name in names)
    assert f"\nVersion: {version}\n" in metadata
    assert "pdeml = pdeml.cli:run" in entry_points
    with tarfile.open(sdist) as tf:
        members = {name.partition("/")[2] for name in tf.getnames()}
    assert {"pyproject.toml", "README.md", "pdeml/_version.py"} <= members
    assert {f"pdeml/presets/{name}" for name in PRESETS} <= members


def test_pre_commit_runs_ruff_at_the_version_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    hooks = (ROOT / ".pre-commit-config.yaml").read_text()
    ci_pins = set(re.findall(r"ruff==([0-9.]+)", ci))
    hook_pins = set(re.findall(r"ruff==([0-9.]+)", hooks))
    assert len(ci_pins) == 1 and hook_pins == ci_pins, (ci_pins, hook_pins)
    assert "ruff check ." in ci and "ruff format --check ." in ci
    assert "entry: ruff check" in hooks and "entry: ruff format" in hooks
