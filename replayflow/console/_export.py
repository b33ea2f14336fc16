"""One execution's view as a single self-contained HTML page (``replayflow history ARN --html FILE``).

The page holds the console's style sheet and script inline and the view as JSON in a
``<script type="application/json">`` block (with ``<``, ``>`` and ``&`` escaped, so no payload can close
it); a Content-Security-Policy lets only those exact inline blocks run, and nothing is fetched.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ._api import static_text

__all__ = ["render_page"]


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _embed(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def render_page(view: Mapping[str, Any]) -> str:
    """The HTML page of ``view`` (from :func:`~replayflow.console.execution_view`)."""
    css = static_text("console.css")
    js = static_text("console.js")
    if "</script" in js.lower() or "</style" in css.lower():  # would end its inline block early
        raise RuntimeError("the console's script or style sheet cannot be inlined")
    name = str(view.get("execution", {}).get("DurableExecutionName", "execution"))
    title = "".join(c if c.isalnum() or c in "-_. " else "_" for c in name)
    policy = f"default-src 'none'; script-src {_hash(js)}; style-src {_hash(css)}; img-src data:; base-uri 'none'"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        f"<title>replayflow: {title}</title>\n<style>{css}</style></head>\n"
        '<body class="rf-static"><header class="rf-top"><span class="rf-brand">replayflow</span>'
        '<span class="rf-sub">execution exported by replayflow history --html</span></header>\n'
        '<main id="rf-main"></main>\n'
        f'<script type="application/json" id="rf-data">{_embed(dict(view))}</script>\n'
        f"<script>{js}</script>\n</body></html>\n"
    )
