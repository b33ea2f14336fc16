"""Small workflows shared by several test modules."""

from __future__ import annotations

from typing import Any

import replayflow


@replayflow.durable
def approval(input: Any, ctx: Any) -> Any:
    callback = yield ctx.create_callback(name="approve", timeout=3600)
    yield ctx.wait(seconds=10)
    return (yield callback.result())
