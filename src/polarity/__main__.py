"""``python -m polarity`` (and ``torchrun -m polarity``): the command line."""

import sys

from polarity.cli import main

sys.exit(main())
