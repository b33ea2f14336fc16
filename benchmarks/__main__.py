"""``python -m benchmarks``: see :mod:`benchmarks.run`; ``python -m benchmarks http ...``: :mod:`benchmarks.http`."""

import sys

if sys.argv[1:2] == ["http"]:
    from .http import main as http_main

    sys.exit(http_main(sys.argv[2:]))

from .run import main

sys.exit(main())
