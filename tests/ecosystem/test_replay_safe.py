"""ctx.now(), ctx.random() and ctx.uuid4(): the same values on the first run and on every replay."""

from __future__ import annotations

import datetime as dt
import uuid

import replayflow
from replayflow.testing import run

seen: list[tuple[str, object]] = []


def branch(ctx, item, index, items):
    seen.append(("branch", (item, ctx.uuid4())))
    return (yield ctx.step(lambda: item, name=f"item-{item}"))


@replayflow.durable
def wf(_, ctx):
    started = yield ctx.now()
    seen.append(("now", started))
    seen.append(("random", [ctx.random().random(), ctx.random().randint(0, 10**9)]))  # two calls: two seeds
    seen.append(("uuid", ctx.uuid4()))
    yield ctx.wait(seconds=30)
    seen.append(("after-wait", (ctx.uuid4(), ctx.random().random())))
    yield ctx.map(["a", "b"], branch)
    yield ctx.wait(seconds=30)
    return str(started)


def invocations(values, kind):
    return [value for k, value in values if k == kind]


def test_replays_see_the_values_of_the_first_run():
    seen.clear()
    result = run(wf, None, check_replay=False)  # count the real invocations only (the checker replays too)
    assert result.succeeded
    nows = invocations(seen, "now")
    assert len(nows) == 3  # first run, and the replays after each wait
    assert len(set(nows)) == 1 and nows[0].tzinfo is dt.UTC
    assert abs((dt.datetime.now(dt.UTC) - nows[0]).total_seconds()) < 300  # the wall clock of the first run
    randoms = invocations(seen, "random")
    assert len(randoms) == 3 and randoms[0] == randoms[1] == randoms[2]
    assert randoms[0][0] != randoms[0][1]
    uuids = invocations(seen, "uuid")
    assert len(set(uuids)) == 1 and uuids[0].version == 4
    after = invocations(seen, "after-wait")
    assert len(after) == 2 and after[0] == after[1] and after[0][0] != uuids[0]
    branches = invocations(seen, "branch")
    by_item = {}
    for item, value in branches:
        by_item.setdefault(item, set()).add(value)
    assert all(len(values) == 1 for values in by_item.values()) and by_item["a"] != by_item["b"]
    assert result.result == str(nows[0])


def test_random_and_uuid_cost_no_operation_and_now_costs_one():
    @replayflow.durable
    def plain(_, ctx):
        ids = [str(ctx.uuid4()) for _ in range(50)]
        numbers = [ctx.random().random() for _ in range(50)]
        moment = yield ctx.now(name="moment")
        return [len(set(ids)), len(set(numbers)), moment.isoformat()]

    result = run(plain, None)
    distinct_ids, distinct_numbers, moment = result.assert_succeeded()
    assert (distinct_ids, distinct_numbers) == (50, 50)
    ops = [(o["Type"], o.get("Name")) for o in result.operations if o["Type"] != "EXECUTION"]
    assert ops == [("STEP", "moment")]
    assert dt.datetime.fromisoformat(result.get_step("moment").result) == dt.datetime.fromisoformat(moment)


def test_other_executions_get_other_values():
    @replayflow.durable
    def ids(_, ctx):
        return str(ctx.uuid4())
        yield  # a generator

    first, second = run(ids, None).result, run(ids, None).result
    assert uuid.UUID(first) != uuid.UUID(second)
