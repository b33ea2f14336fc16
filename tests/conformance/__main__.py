"""``python -m tests.conformance``: see :mod:`tests.conformance.runner`."""

import sys

from tests.conformance.runner import main

sys.exit(main())
