"""The environment a report records: the commit it names."""

from __future__ import annotations

import subprocess

import pytest

from pdeml.validation.environment import environment


def test_pdeml_commit_overrides_the_checkout(monkeypatch):
    # A copy sent to a GPU machine carried a stale .git: the commit said explicitly wins.
    monkeypatch.setenv("PDEML_COMMIT", "abc1234")
    assert environment()["commit"] == "abc1234"


def test_without_pdeml_commit_the_checkout_is_read(monkeypatch):
    monkeypatch.delenv("PDEML_COMMIT", raising=False)
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    assert environment()["commit"].split()[0] == head


def test_outside_a_checkout_without_pdeml_commit_is_unknown(monkeypatch):
    import pdeml.validation.environment as env

    def no_git(*args):
        raise subprocess.CalledProcessError(128, ["git", *args])

    monkeypatch.delenv("PDEML_COMMIT", raising=False)
    monkeypatch.setattr(env, "_git", no_git)
    assert environment()["commit"] == "unknown"
