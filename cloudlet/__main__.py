"""``python -m cloudlet`` is the ``cloudlet`` command."""

import sys

from cloudlet.cli import main

sys.exit(main())
