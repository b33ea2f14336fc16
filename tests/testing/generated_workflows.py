"""A small grammar of workflows, the workflow that runs a case, and its straight-line reference interpretation.

A case is a list of operations (JSON lists, so that it travels as the execution's input)::

    ["step", label, outcome, semantics]   outcome: ok | fail | retry1 | retry2 | exhaust; semantics: alo | amo
    ["crash", label, semantics]           a step whose first run kills the Lambda process (ProcessExit)
    ["wait", label, seconds]
    ["callback", label, answer]           wait_for_callback: succeed | fail | timeout | heartbeat | broken
                                          (broken: the submitter fails)
    ["invoke", label, target]             chained invoke of a plain function: ok | fail
    ["cond", label, polls]                wait_for_condition that holds after ``polls`` polls (gives up after 3)
    ["child", label, body, raises]        a child context running ``body`` (then raising if ``raises``)
    ["batch", label, kind, items, policy, max_concurrency]
                                          kind: map | parallel; items: [[body, raises], ...];
                                          policy: all_completed | fail_fast | min_successful_<k>

Every failing operation is caught and logged as ``["caught", <error class>]``, so the run's result names
the class each failure raised; :func:`expected` says what the result must be.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import replayflow
from replayflow import (
    CompletionConfig,
    DurableOperationError,
    RetryPolicy,
    RetryPresets,
    StepSemantics,
    WaitStrategy,
    step_context,
)
from replayflow.local import ProcessExit

#: (step key, attempt) of every step body that finished (returned or raised), and those that ran again.
COMPLETED: set[tuple[str, int]] = set()
RAN_AGAIN: list[tuple[str, int]] = []
CRASHED: set[str] = set()

_RETRY = {
    "ok": RetryPresets.none(),
    "fail": RetryPresets.none(),
    "retry1": RetryPolicy(max_attempts=2, initial_delay=1, jitter=replayflow.Jitter.NONE),
    "retry2": RetryPolicy(max_attempts=3, initial_delay=1, jitter=replayflow.Jitter.NONE),
    "exhaust": RetryPolicy(max_attempts=2, initial_delay=1, jitter=replayflow.Jitter.NONE),
}
_FAILING_ATTEMPTS = {"ok": 0, "fail": 99, "retry1": 1, "retry2": 2, "exhaust": 99}
_SEMANTICS = {"alo": StepSemantics.AT_LEAST_ONCE_PER_RETRY, "amo": StepSemantics.AT_MOST_ONCE_PER_RETRY}


#: In worker processes (``SubprocessInvoker``): the directory that keeps the sets above across processes,
#: and a crash is the process exiting for real.
STATE_DIR = os.environ.get("REPLAYFLOW_GENERATED_DIR")


def reset() -> None:
    CHANGES.clear()
    COMPLETED.clear()
    RAN_AGAIN.clear()
    CRASHED.clear()


def _seen(kind: str, key: str) -> bool:
    if STATE_DIR is None:
        return False
    path = Path(STATE_DIR) / kind
    return path.exists() and key in path.read_text().splitlines()


def _mark(kind: str, key: str) -> None:
    if STATE_DIR is not None:
        with open(Path(STATE_DIR) / kind, "a") as f:
            f.write(key + "\n")
            f.flush()
            os.fsync(f.fileno())


def step_body(key: str, outcome: str) -> str:
    attempt = step_context().attempt
    done = (key, attempt)
    if done in COMPLETED or _seen("completed", f"{key}#{attempt}"):
        RAN_AGAIN.append(done)
        _mark("ran-again", f"{key}#{attempt}")
    if outcome == "crash" and key not in CRASHED and not _seen("crashed", key):
        CRASHED.add(key)
        if STATE_DIR is not None:
            _mark("crashed", key)
            os._exit(1)  # the worker process dies mid-invocation
        raise ProcessExit(1)
    COMPLETED.add(done)
    _mark("completed", f"{key}#{attempt}")
    if attempt <= _FAILING_ATTEMPTS.get(outcome, 0):
        raise ValueError(f"{key} failed attempt {attempt}")
    return key


def submitter(key: str, broken: bool, callback_id: str) -> None:
    done = (key, step_context().attempt)
    if done in COMPLETED:
        RAN_AGAIN.append(done)
    COMPLETED.add(done)
    if broken:
        raise ConnectionError(f"cannot reach the approver for {key}")


def invoke_ok(payload: Any) -> Any:
    return payload


def invoke_fail(payload: Any) -> Any:
    raise PermissionError(f"refused {payload}")


FUNCTIONS = {"target-ok": invoke_ok, "target-fail": invoke_fail}


def _poll(state: int) -> int:
    return state + 1


def _reached(polls: int, state: int) -> bool:
    return state >= polls


def _completion(policy: str) -> CompletionConfig:
    if policy == "all_completed":
        return CompletionConfig.all_completed()
    if policy == "fail_fast":
        return CompletionConfig.all_successful()
    return CompletionConfig(min_successful=int(policy.rsplit("_", 1)[1]))


#: The code changed under a running execution: label -> "rename" (the operation gets another name), "drop"
#: (it is no longer there) or "insert" (a new step comes before it). Empty: the case as generated.
CHANGES: dict[str, str] = {}


def interpret(ctx: Any, body: list[Any], path: str) -> Any:
    """Run ``body``; returns its log."""
    log: list[Any] = []
    for op in body:
        kind, label = op[0], op[1]
        key = f"{path}{label}"
        change = CHANGES.get(label)
        if change == "drop":
            continue
        if change == "insert":
            yield ctx.step(step_body, f"{key}+", "ok", name=f"{label}+")
        elif change == "rename":
            label = f"{label}~"  # (the key stays: it is the operation's identity in the test's records)
        try:
            if kind == "step":
                _, _, outcome, semantics = op
                value = yield ctx.step(
                    step_body, key, outcome, name=label, semantics=_SEMANTICS[semantics], retry=_RETRY[outcome]
                )
                log.append(["step", value])
            elif kind == "crash":
                semantics = op[2]
                value = yield ctx.step(
                    step_body, key, "crash", name=label, semantics=_SEMANTICS[semantics], retry=RetryPresets.none()
                )
                log.append(["step", value])
            elif kind == "wait":
                yield ctx.wait(seconds=op[2], name=label)
                log.append(["wait"])
            elif kind == "callback":
                answer = op[2]
                value = yield ctx.wait_for_callback(
                    functools.partial(submitter, key, answer == "broken"),
                    name=label,
                    timeout=30,
                    heartbeat_timeout=10 if answer == "heartbeat" else None,
                    retry=RetryPresets.none(),
                )
                log.append(["callback", value])
            elif kind == "invoke":
                value = yield ctx.invoke(f"target-{op[2]}", key, name=label)
                log.append(["invoke", value])
            elif kind == "cond":
                polls = op[2]
                strategy = WaitStrategy(
                    is_done=functools.partial(_reached, polls),
                    max_attempts=3,
                    initial_delay=1,
                    jitter=replayflow.Jitter.NONE,
                )
                value = yield ctx.wait_for_condition(_poll, initial_state=0, wait_strategy=strategy, name=label)
                log.append(["cond", value])
            elif kind == "child":
                value = yield ctx.run_in_child_context(functools.partial(_child, op[2], op[3], f"{key}/"), name=label)
                log.append(["child", value])
            elif kind == "batch":
                log.append((yield from _batch(ctx, op, key, label)))
            else:  # pragma: no cover - the grammar has no other operations
                raise AssertionError(f"unknown operation {op!r}")
        except DurableOperationError as error:
            log.append(["caught", type(error).__name__])
    return log


def _child(body: list[Any], raises: bool, path: str, ctx: Any) -> Any:
    log = yield from interpret(ctx, body, path)
    if raises:
        raise LookupError(f"{path} raised")
    return log


def _item(items: list[Any], path: str, ctx: Any, item: int, index: int, all_items: Any) -> Any:
    body, raises = items[index]
    return (yield from _child(body, raises, f"{path}/{index}/", ctx))


def _branch(items: list[Any], path: str, index: int, ctx: Any) -> Any:
    body, raises = items[index]
    return (yield from _child(body, raises, f"{path}/{index}/", ctx))


def _batch(ctx: Any, op: list[Any], key: str, label: str) -> Any:
    _, _, kind, items, policy, max_concurrency = op
    options = {"name": label, "completion": _completion(policy), "max_concurrency": max_concurrency}
    if kind == "map":
        result = yield ctx.map(list(range(len(items))), functools.partial(_item, items, key), **options)
    else:
        branches = [functools.partial(_branch, items, key, i) for i in range(len(items))]
        result = yield ctx.parallel(branches, **options)
    return ["batch", [[i.status.value, i.result] for i in result.all], result.completion_reason.value]


@replayflow.durable
def generated(case: list[Any], ctx: Any) -> Any:
    """The workflow that runs a generated case."""
    _load_changes()
    return (yield from interpret(ctx, case, ""))


@replayflow.durable(pipelined=True)
def generated_pipelined(case: list[Any], ctx: Any) -> Any:
    """The same, with pipelined checkpoints."""
    _load_changes()
    return (yield from interpret(ctx, case, ""))


def _load_changes() -> None:
    """In worker processes: the code change a test made (``changes`` in :data:`STATE_DIR`, a JSON object
    as :data:`CHANGES` holds) is the code of every invocation that starts after it."""
    if STATE_DIR is not None and (path := Path(STATE_DIR) / "changes").exists():
        CHANGES.update(json.loads(path.read_text()))


# -- the reference: what the case returns, read straight through -----------------------------------------------

_CALLBACK = {
    "succeed": ["callback", "yes"],
    "fail": ["caught", "CallbackFailedError"],
    "timeout": ["caught", "CallbackTimeoutError"],
    "heartbeat": ["caught", "CallbackHeartbeatTimeoutError"],
    "broken": ["caught", "CallbackSubmitterError"],
}


def expected(body: list[Any], path: str = "") -> list[Any]:
    """The log :func:`interpret` returns for ``body``, by reading the case straight through."""
    log: list[Any] = []
    for op in body:
        kind, label = op[0], op[1]
        key = f"{path}{label}"
        if kind == "step":
            log.append(["caught", "StepError"] if op[2] in ("fail", "exhaust") else ["step", key])
        elif kind == "crash":
            log.append(["step", key] if op[2] == "alo" else ["caught", "StepInterruptedError"])
        elif kind == "wait":
            log.append(["wait"])
        elif kind == "callback":
            log.append(_CALLBACK[op[2]])
        elif kind == "invoke":
            log.append(["invoke", key] if op[2] == "ok" else ["caught", "InvokeFailedError"])
        elif kind == "cond":  # the strategy gives up after 3 polls
            log.append(["cond", op[2]] if op[2] <= 3 else ["caught", "WaitForConditionError"])
        elif kind == "child":
            inner = expected(op[2], f"{key}/")
            log.append(["caught", "ChildContextError"] if op[3] else ["child", inner])
        else:
            log.append(_expected_batch(op, key))
    return log


def _expected_batch(op: list[Any], key: str) -> list[Any]:
    _, _, _, items, policy, _ = op
    succeeded = failed = 0
    outcome: list[Any] = []
    reason = None
    for index, (body, raises) in enumerate(items):
        reason = _reason(policy, succeeded, failed)
        if reason:
            break
        if raises:
            failed += 1
            outcome.append(["FAILED", None])
        else:
            succeeded += 1
            outcome.append(["SUCCEEDED", expected(body, f"{key}/{index}/")])
    else:
        reason = _reason(policy, succeeded, failed) or "ALL_COMPLETED"
    return ["batch", outcome, reason]


def _reason(policy: str, succeeded: int, failed: int) -> str | None:
    if policy == "fail_fast" and failed:
        return "FAILURE_TOLERANCE_EXCEEDED"
    if policy.startswith("min_successful_") and succeeded >= int(policy.rsplit("_", 1)[1]):
        return "MIN_SUCCESSFUL_REACHED"
    return None


def walk(body: list[Any], path: str = "") -> Iterator[tuple[list[Any], str]]:
    """Every operation of the case at any depth (in child bodies and batch items too), with its key (as
    :func:`step_body` gets it)."""
    for op in body:
        key = f"{path}{op[1]}"
        yield op, key
        if op[0] == "child":
            yield from walk(op[2], f"{key}/")
        elif op[0] == "batch":
            for index, (item_body, _) in enumerate(op[3]):
                yield from walk(item_body, f"{key}/{index}/")


def at_most_once_keys(body: list[Any]) -> set[str]:
    """The keys of the case's at-most-once step bodies."""
    return {key for op, key in walk(body) if op[0] in ("step", "crash") and op[-1] == "amo"}


def callbacks_of(body: list[Any]) -> dict[str, Any]:
    """The ``callbacks=`` for :func:`replayflow.testing.run` that answer the case's callbacks."""
    from replayflow.testing import fail, succeed, time_out

    answers = {"succeed": lambda: succeed("yes", after=5), "fail": lambda: fail("no", after=5)}
    return {op[1]: answers.get(op[2], time_out)() for op, _ in walk(body) if op[0] == "callback"}
