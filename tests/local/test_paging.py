"""Pages of an execution's operations (``replayflow.local.paging``): what they hand out, and what it costs."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from replayflow._wire import OperationDict
from replayflow.local.paging import TERMINAL_OP, operations_page
from replayflow.local.records import Execution

from .test_records import execution


def _reference(ex: Execution) -> list[str]:
    """The ops a page may hand out, by the rule itself: no ancestor is a completed operation that leaves
    its children out (walked up from every operation, with no cache)."""
    out = []
    for op_id in ex.order:
        parent_id = ex.ops[op_id].get("ParentId")
        shown = True
        while parent_id is not None and (parent := ex.ops.get(parent_id)) is not None:
            replays = (parent.get("ContextDetails") or {}).get("ReplayChildren")
            if parent["Status"] in TERMINAL_OP and not replays:
                shown = False
                break
            parent_id = parent.get("ParentId")
        if shown:
            out.append(op_id)
    return out


def _all_pages(ex: Execution, size: int, page_bytes: int) -> list[list[OperationDict]]:
    pages, start = [], 0
    while True:
        page, marker = operations_page(ex, start, size, page_bytes)
        pages.append(page)
        if marker is None:
            return pages
        assert int(marker) > start
        start = int(marker)


def _op(i: int, parent: int | None, status: str, replay_children: bool, payload: int) -> OperationDict:
    op: dict[str, Any] = {"Id": f"op{i}", "Type": "CONTEXT", "Status": status}
    if parent is not None:
        op["ParentId"] = f"op{parent}" if parent >= 0 else "missing"  # a parent the history does not hold
    details: dict[str, Any] = {"Result": "x" * payload} if payload else {}
    if replay_children:
        details["ReplayChildren"] = True
    if details:
        op["ContextDetails"] = details
    return OperationDict(**op)


_STATUSES = st.sampled_from(["STARTED", "PENDING", "SUCCEEDED", "FAILED", "CANCELLED"])


@st.composite
def _histories(draw: st.DrawFn) -> list[tuple[int | None, str, bool, int]]:
    n = draw(st.integers(0, 40))
    return [
        (
            draw(st.none() | st.integers(-1, i - 1)) if i else None,
            draw(_STATUSES),
            draw(st.booleans()),
            draw(st.integers(0, 30)),
        )
        for i in range(n)
    ]


@settings(max_examples=200, deadline=None)
@given(
    history=_histories(),
    changes=st.lists(st.tuples(st.integers(0, 39), _STATUSES, st.booleans()), max_size=5),
    size=st.integers(1, 7),
    page_bytes=st.integers(1, 80),
)
def test_pages_hand_out_exactly_the_visible_operations_in_start_order_as_the_execution_changes(
    history: list[tuple[int | None, str, bool, int]],
    changes: list[tuple[int, str, bool]],
    size: int,
    page_bytes: int,
) -> None:
    ex = execution()
    for i, (parent, status, replays, payload) in enumerate(history):
        ex.add_op(_op(i, parent, status, replays, payload))
    steps: list[tuple[int, str, bool] | None] = [None, *changes]
    for change in steps:  # read every page, change one operation (completing a context, say), read again
        if change is not None and history:
            i = change[0] % len(history)
            parent, _, _, payload = history[i]
            ex.set_op(_op(i, parent, change[1], change[2], payload))
        pages = _all_pages(ex, size, page_bytes)
        assert [op["Id"] for page in pages for op in page] == _reference(ex)
        assert all(len(page) <= size for page in pages)
        assert all(page for page in pages[:-1])  # only the last page may be empty (an empty history)


class _CountingOps(dict[str, OperationDict]):
    gets = 0

    def get(self, key: Any, default: Any = None) -> Any:
        _CountingOps.gets += 1
        return super().get(key, default)


def test_a_page_costs_its_own_operations_not_the_hidden_ones_before_it() -> None:
    """10 completed contexts three deep, each over 300 steps that pages leave out: working out what is
    visible looks each context up once, and pages read after it, until the execution changes, look up none."""
    ex = execution()
    ex.ops = _CountingOps()
    for k in range(10):
        outer, middle, inner = f"outer{k}", f"middle{k}", f"inner{k}"
        ex.add_op(OperationDict(Id=outer, Type="CONTEXT", Status="SUCCEEDED"))
        ex.add_op(OperationDict(Id=middle, Type="CONTEXT", Status="SUCCEEDED", ParentId=outer))
        ex.add_op(OperationDict(Id=inner, Type="CONTEXT", Status="SUCCEEDED", ParentId=middle))
        for j in range(300):
            ex.add_op(OperationDict(Id=f"s{k}-{j}", Type="STEP", Status="SUCCEEDED", ParentId=inner))
    _CountingOps.gets = 0
    pages = _all_pages(ex, 2, 10**6)
    assert [op["Id"] for page in pages for op in page] == [f"outer{k}" for k in range(10)]
    assert _CountingOps.gets <= 30  # each of the 30 contexts looked up once (by each step: 9,000 and more)
    _CountingOps.gets = 0
    first, marker = operations_page(ex, 0, 2, 10**6)
    assert [op["Id"] for op in first] == ["outer0", "outer1"] and marker is not None
    assert _CountingOps.gets == 0  # nothing changed since: no record is read again
    assert [op["Id"] for op in operations_page(ex, int(marker), 2, 10**6)[0]] == ["outer2", "outer3"]
    assert _CountingOps.gets == 0
