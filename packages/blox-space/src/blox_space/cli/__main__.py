"""``python -m blox_space.cli``: the ``blox-space`` command."""

import sys

from . import main

sys.exit(main())
