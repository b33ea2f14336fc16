"""Checkpoint batches stay within the service's request limits."""

from __future__ import annotations

import replayflow
from replayflow._checkpoint import batch_end, update_size

from .wire import Recorder, event, invoke


def _update(i: int, payload: str = "") -> dict:
    return {"Id": f"{i}", "Type": "STEP", "Action": "SUCCEED", "Payload": payload}


def test_batches_hold_at_most_250_updates():
    updates = [_update(i) for i in range(600)]
    assert batch_end(updates) == 250
    assert batch_end(updates, 250) == 500
    assert batch_end(updates, 500) == 600


def test_batches_hold_at_most_750_kb():
    updates = [_update(i, "x" * 200_000) for i in range(5)]
    assert batch_end(updates) == 3
    assert sum(update_size(u) for u in updates[:3]) <= 750 * 1024
    assert batch_end(updates, 3) == 5


def test_an_oversized_update_still_travels_alone():
    updates = [_update(0, "x" * 900_000), _update(1)]
    assert (batch_end(updates), batch_end(updates, 1)) == (1, 2)


def test_a_wide_parallel_is_checkpointed_in_several_requests_in_order():
    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.parallel([lambda c: None] * 300, max_concurrency=300)
        return result.success_count

    rec = Recorder()
    assert invoke(wf, event(), rec)["Result"] == "300"
    assert len(rec.checkpoints) == 3
    assert all(len(batch) <= 250 for batch in rec.checkpoints)
    actions = rec.actions()
    assert actions[0] == ("CONTEXT", "START", None)
    assert actions[-1] == ("CONTEXT", "SUCCEED", None)
    assert len(actions) == 2 + 2 * 300
