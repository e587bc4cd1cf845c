"""``python -m skhidden``: the demonstration on real data (see ``skhidden.demo``)."""

import sys

from .demo import main

sys.exit(main())
