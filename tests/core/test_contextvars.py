"""A ContextVar the workflow sets reaches every step body, inline or on a worker thread."""

from __future__ import annotations

import contextvars
import threading

from replayflow.testing import run

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def tag(item: int) -> list[object]:
    return [item, REQUEST_ID.get(), threading.current_thread().name.startswith("replayflow-step")]


def test_parallel_and_map_step_bodies_on_worker_threads_see_the_workflows_context_vars():
    def branch(n):
        def body(ctx):
            return (yield ctx.step(tag, n, name=f"tag-{n}"))

        return body

    def workflow(event, ctx):
        REQUEST_ID.set(event["request"])
        inline = yield ctx.step(tag, 0, name="inline")
        mapped = yield ctx.map([1, 2, 3], lambda c, item, i, items: (yield c.step(tag, item, name=f"m{item}")))
        parallel = yield ctx.parallel([branch(4), branch(5)])
        return [inline, *mapped.get_results(), *parallel.get_results()]

    results = run(workflow, {"request": "req-42"}).assert_succeeded()
    assert [r[1] for r in results] == ["req-42"] * 6
    assert any(r[2] for r in results)  # some bodies really ran on worker threads
