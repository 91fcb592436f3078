"""``python -m polarity.server MODEL_DIR ...``: the same as ``polarity serve``."""

import sys

from polarity.cli.serve import serve_main

sys.exit(serve_main())
