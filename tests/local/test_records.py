"""The service's records (``replayflow.local.records``): the execution record, its token chain, named tuples."""

from __future__ import annotations

from replayflow.local.records import CallbackDeadlines, Execution, TokenChain


def execution() -> Execution:
    return Execution(
        arn="arn:x",
        function_name="f",
        name="n",
        id="1",
        region="us-east-1",
        account="123456789012",
        input_payload=None,
        start_ms=0,
        timeout=60,
    )


def test_a_new_execution_is_running_with_nothing_pending() -> None:
    ex = execution()
    assert ex.status == "RUNNING" and ex.result_view().status == "RUNNING"
    assert (ex.pending, ex.callbacks, ex.children, ex.ops, ex.events) == (set(), {}, {}, {}, [])
    assert ex.tokens.current is None and not ex.running


def test_operations_keep_their_start_order_and_a_change_log() -> None:
    ex = execution()
    ex.add_op({"Id": "a", "Type": "STEP", "Status": "STARTED"})
    ex.add_op({"Id": "b", "Type": "WAIT", "Status": "STARTED"})
    ex.set_op({"Id": "a", "Type": "STEP", "Status": "SUCCEEDED"})
    assert ex.order == ["a", "b"] and ex.changes == ["a", "b", "a"]
    assert ex.ops["a"]["Status"] == "SUCCEEDED"


def test_a_token_chain_hands_out_each_token_once() -> None:
    chain = TokenChain()
    first = chain.open()
    assert chain.current == first and first.endswith("0")
    second = chain.advance()
    assert second != first and chain.current == second and second.startswith(chain.nonce)
    again = TokenChain()
    assert again.open() != first  # a new invocation's chain starts from a new nonce
    chain.close()
    assert chain.current is None and chain.last_call is None


def test_callback_deadlines_are_named() -> None:
    deadlines = CallbackDeadlines(timeout=10, heartbeat=5, timeout_due=10_000, heartbeat_due=5_000)
    assert deadlines._replace(heartbeat_due=9_000) == (10, 5, 10_000, 9_000)
