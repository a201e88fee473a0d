"""``python -m pdeml.cli``: the same as the ``pdeml`` command."""

from pdeml.cli.app import run

run()
