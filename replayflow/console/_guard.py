"""Who may use the console: same-origin requests to a loopback Host, and a per-server token to change things.

A page on another site can make a browser send requests to 127.0.0.1, so every console request must name a
loopback ``Host`` with the server's port (a DNS-rebinding page names its own host), and a request that
changes something (a POST) must also carry the token the console page was served with in the
``X-Replayflow-Token`` header: a custom header a cross-site page cannot add without a CORS preflight the
console never grants, holding a secret it cannot read. A present ``Origin`` or ``Sec-Fetch-Site`` must be
this origin too; that also holds for the Lambda REST API on the same port (boto3 sends neither), so a page
elsewhere cannot post an Invoke or a callback answer with a plain form.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Protocol

__all__ = ["TOKEN_HEADER", "Guard", "Headers"]

TOKEN_HEADER = "X-Replayflow-Token"


class Headers(Protocol):
    """Request headers (an ``http.client.HTTPMessage``, or a dict in tests)."""

    def get(self, name: str, /) -> str | None: ...


class Guard:
    """The checks for one server on ``port`` (``token`` is generated when not given)."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token or secrets.token_urlsafe(32)
        self._hosts = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}

    def host_ok(self, headers: Headers) -> bool:
        """The request names this server by a loopback address (no DNS rebinding)."""
        return (headers.get("Host") or "").lower() in self._hosts

    def cross_site(self, headers: Headers) -> str | None:
        """Why a browser request from another origin is refused (SDKs and boto3 send no ``Origin``)."""
        origin = headers.get("Origin")
        if origin is not None and origin.lower() not in {f"http://{host}" for host in self._hosts}:
            return f"cross-origin request from {origin} refused"
        if (headers.get("Sec-Fetch-Site") or "same-origin") not in ("same-origin", "none"):
            return "cross-site request refused"
        return None

    def refuse(self, method: str, headers: Headers) -> str | None:
        """Why the request is refused, or ``None`` when it may go on."""
        if not self.host_ok(headers):
            return "the console answers only requests to 127.0.0.1 or localhost on its own port"
        if method == "GET":
            return None
        refused = self.cross_site(headers)
        if refused is not None:
            return refused
        sent = headers.get(TOKEN_HEADER) or ""
        if not hmac.compare_digest(sent.encode(), self.token.encode()):
            return f"missing or wrong {TOKEN_HEADER} header"
        return None
