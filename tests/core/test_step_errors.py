"""What a step's failure looks like to the workflow: unserializable results and undecodable messages."""

from __future__ import annotations

import inspect
import os

import replayflow
from replayflow.testing import run


class Receipt:  # neither JSON, a dataclass nor attrs: it cannot be checkpointed
    pass


def make_receipt() -> Receipt:
    return Receipt()


def read_file_named_in_latin1() -> str:
    name = os.fsdecode(b"report-\xe9.csv")  # a lone surrogate, as Linux file names give
    raise FileNotFoundError(f"no such file: {name}")


def test_an_unserializable_result_names_the_step_and_the_function_that_returned_it():
    def workflow(_, ctx):
        try:
            yield ctx.step(make_receipt, name="receipt")
        except replayflow.StepError as error:
            return str(error)
        return "stored"

    message = run(workflow).assert_succeeded()
    line = inspect.getsourcelines(make_receipt)[1]
    assert message.startswith("step 'receipt' returned a value that cannot be checkpointed")
    assert f"make_receipt at {__file__}:{line}" in message and "Receipt" in message
    assert "serdes=" in message


def test_a_lone_surrogate_in_an_error_message_is_a_step_error_after_the_retries():
    def workflow(_, ctx):
        try:
            yield ctx.step(read_file_named_in_latin1, name="read", retry=replayflow.RetryPolicy(max_attempts=3))
        except replayflow.StepError as error:
            return [error.error_type, error.error_message]

    result = run(workflow)
    assert result.assert_succeeded() == ["FileNotFoundError", "no such file: report-\\udce9.csv"]
    assert result.get_step("read").attempt == 3  # retried: not a TypeError out of the SDK


def test_an_uncaught_lone_surrogate_fails_the_execution_with_the_step_error():
    def workflow(_, ctx):
        yield ctx.step(read_file_named_in_latin1, name="read", retry=replayflow.RetryPresets.none())

    error = run(workflow).assert_failed("FileNotFoundError")
    assert "report-\\udce9.csv" in error["ErrorMessage"]
