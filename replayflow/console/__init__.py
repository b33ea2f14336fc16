"""The local web console: executions as a list and a timeline, callbacks answered and runs stopped in a browser.

``replayflow serve`` serves it at its root URL and ``replayflow console --store FILE`` opens a store without
running anything; ``replayflow history ARN --html FILE`` writes one execution's view as a self-contained
page. The page is plain HTML, CSS and JavaScript shipped in this package (no build step, nothing fetched
from the network); :class:`Console` answers its requests (see :mod:`replayflow.console._api` for the
routes) on the local service's HTTP server, which listens on 127.0.0.1 only.
"""

from __future__ import annotations

from ._api import PAGE_LIMIT, Console
from ._export import render_page
from ._guard import TOKEN_HEADER
from ._view import MAX_BYTES, MAX_OPERATIONS, execution_view, usage

__all__ = [
    "MAX_BYTES",
    "MAX_OPERATIONS",
    "PAGE_LIMIT",
    "TOKEN_HEADER",
    "Console",
    "execution_view",
    "render_page",
    "usage",
]
