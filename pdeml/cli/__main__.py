"""``python -m pdeml.cli``: the same as the ``pdeml`` command."""

import sys

from pdeml.cli.app import main

sys.exit(main())
