"""The read APIs: GetDurableExecution, GetDurableExecutionHistory, ListDurableExecutionsByFunction, and the
service's own views (where an execution stands, its usage, the operations an invocation would get).

Timestamps are epoch ms inside the service; every read converts them with a ``timestamp`` function
(``datetime`` for the boto3-shaped Python API, epoch seconds for REST JSON).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

from replayflow._wire import OperationDict

from . import naming
from .engine import Engine, ms
from .events import render_event
from .paging import operations_page
from .records import Execution, ExecutionResult
from .shapes import page_size, parse_marker
from .usage import Usage, execution_usage

__all__ = ["ExecutionQuery", "ReadApi", "Timestamp"]

#: Converts epoch milliseconds to what a response carries.
Timestamp = Callable[[int], Any]


@attrs.frozen
class ExecutionQuery:
    """Which executions of a function ListDurableExecutionsByFunction answers, and which page of them."""

    qualifier: str | None = None
    name: str | None = None
    statuses: Sequence[str] | None = None
    started_after: _dt.datetime | None = None
    started_before: _dt.datetime | None = None
    #: Oldest first (the default is newest first).
    reverse: bool = False
    marker: str | None = None
    max_items: int | None = None

    def selects(self, ex: Execution, after_ms: int | None, before_ms: int | None) -> bool:
        return (
            (self.name is None or ex.name == self.name)
            and (not self.statuses or ex.status in self.statuses)
            and (after_ms is None or ex.start_ms > after_ms)
            and (before_ms is None or ex.start_ms < before_ms)
        )


class ReadApi:
    """The read APIs over an :class:`~.engine.Engine` (they change nothing but the call counts)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def describe(self, arn: str, include_data: bool, timestamp: Timestamp) -> dict[str, Any]:
        """GetDurableExecution with timestamps converted by ``timestamp``."""
        engine = self._engine
        engine.calls["GetDurableExecution"] += 1
        with engine.lock:
            return _description(engine.execution(arn), include_data, timestamp)

    def history(
        self,
        arn: str,
        include_data: bool,
        max_items: int | None,
        marker: str | None,
        reverse: bool,
        timestamp: Timestamp,
    ) -> dict[str, Any]:
        """One page of GetDurableExecutionHistory."""
        engine = self._engine
        engine.calls["GetDurableExecutionHistory"] += 1
        size = page_size(max_items, 1000)
        start = parse_marker(marker)
        with engine.lock:
            ex = engine.execution(arn)
            events = ex.events[::-1] if reverse else ex.events
            out: dict[str, Any] = {
                "Events": [render_event(e, include_data, timestamp) for e in events[start : start + size]]
            }
            if start + size < len(events):
                out["NextMarker"] = str(start + size)
            return out

    def list_executions(self, function_name: str, query: ExecutionQuery, timestamp: Timestamp) -> dict[str, Any]:
        """One page of ListDurableExecutionsByFunction."""
        engine = self._engine
        engine.calls["ListDurableExecutionsByFunction"] += 1
        target = naming.parse_function_target(function_name)
        size = page_size(query.max_items, 1000)
        start = parse_marker(query.marker)
        with engine.lock:
            selected = self._select(engine.function(target[0] if target else function_name).name, query)
            out: dict[str, Any] = {"DurableExecutions": [_item(ex, timestamp) for ex in selected[start : start + size]]}
            if start + size < len(selected):
                out["NextMarker"] = str(start + size)
            return out

    def _select(self, function_name: str, query: ExecutionQuery) -> list[Execution]:
        if query.qualifier not in (None, naming.LATEST):
            return []
        executions = list(self._engine.by_function.get(function_name, ()))
        if not query.reverse:
            executions.reverse()
        after_ms = None if query.started_after is None else ms(query.started_after.timestamp())
        before_ms = None if query.started_before is None else ms(query.started_before.timestamp())
        return [ex for ex in executions if query.selects(ex, after_ms, before_ms)]

    def execution(self, arn: str) -> ExecutionResult:
        with self._engine.lock:
            return self._engine.execution(arn).result_view()

    def invocation_operations(self, arn: str) -> list[OperationDict]:
        """Every page of ``arn``'s operations as an invocation receives them now."""
        engine = self._engine
        with engine.lock:
            ex = engine.execution(arn)
            out: list[OperationDict] = []
            start: int | None = 0
            while start is not None:
                page, marker = operations_page(ex, start, len(ex.order), engine.limits.page_bytes)
                out.extend(OperationDict(**op) for op in page)
                start = int(marker) if marker else None
            return out

    def usage(self, arn: str) -> Usage:
        engine = self._engine
        with engine.lock:
            return execution_usage(engine.execution(arn), engine.limits, engine.prices, engine.now_ms())

    def executions(self) -> Iterator[ExecutionResult]:
        with self._engine.lock:
            views = [ex.result_view() for ex in self._engine.executions.values()]
        return iter(views)

    def functions(self) -> list[tuple[str, bool]]:
        with self._engine.lock:
            return [(fn.name, fn.durable) for fn in self._engine.functions.values()]


def _function_arn(ex: Execution) -> str:
    return naming.function_arn(ex.function_name, ex.region, ex.account, naming.LATEST)


def _item(ex: Execution, timestamp: Timestamp) -> dict[str, Any]:
    """One execution in a ListDurableExecutionsByFunction page."""
    item: dict[str, Any] = {
        "DurableExecutionArn": ex.arn,
        "DurableExecutionName": ex.name,
        "FunctionArn": _function_arn(ex),
        "Status": ex.status,
        "StartTimestamp": timestamp(ex.start_ms),
    }
    if ex.end_ms is not None:
        item["EndTimestamp"] = timestamp(ex.end_ms)
    return item


def _description(ex: Execution, include: bool, timestamp: Timestamp) -> dict[str, Any]:
    """GetDurableExecution's answer for ``ex``."""
    out: dict[str, Any] = {
        "DurableExecutionArn": ex.arn,
        "DurableExecutionName": ex.name,
        "FunctionArn": _function_arn(ex),
        "Status": ex.status,
        "StartTimestamp": timestamp(ex.start_ms),
        "Version": naming.LATEST,
        "ExecutionDataIncluded": include,
        "DurableConfig": {"ExecutionTimeout": ex.timeout, "RetentionPeriodInDays": 30},
    }
    if include:
        out.update(_data(ex))
    if ex.error is not None and ex.status != "SUCCEEDED":
        out["Error"] = ex.error if include else {k: v for k, v in ex.error.items() if k == "ErrorType"}
    if ex.end_ms is not None:
        out["EndTimestamp"] = timestamp(ex.end_ms)
    else:
        out["ExpectedExecutionTimeoutTimestamp"] = timestamp(ex.start_ms + ex.timeout * 1000)
    return out


def _data(ex: Execution) -> dict[str, str]:
    """The execution data GetDurableExecution includes when asked: its input and result."""
    out = {}
    if ex.input_payload is not None:
        out["InputPayload"] = ex.input_payload
    if ex.result is not None:
        out["Result"] = ex.result
    return out
