"""The boto3-shaped in-process client (``LocalLambdaClient``): its answers and errors are boto3's."""

from __future__ import annotations

import datetime as _dt

import pytest
from botocore.exceptions import ClientError

from replayflow.local import LocalDurableService, LocalLambdaClient, VirtualClock

from .workflows import approval


def test_local_lambda_client_raises_client_errors() -> None:
    svc = LocalDurableService(clock=VirtualClock(autojump=False))
    svc.register("approval", approval)
    lam = LocalLambdaClient(svc)
    arn = lam.invoke(FunctionName="approval", InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    svc.advance(0)
    history = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    assert isinstance(history[0]["EventTimestamp"], _dt.datetime)
    callback_id = history[1]["CallbackStartedDetails"]["CallbackId"]
    lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'"approved"')
    svc.advance(10)
    described = lam.get_durable_execution(DurableExecutionArn=arn)
    assert described["Result"] == '"\\"approved\\""'  # the raw callback text, returned as a JSON string
    with pytest.raises(ClientError) as error:
        lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"again")
    assert error.value.response["Error"]["Code"] == "CallbackTimeoutException"
    assert error.value.operation_name == "SendDurableExecutionCallbackSuccess"
    with pytest.raises(ClientError) as stale:
        lam.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken="AAAA", Updates=[])
    assert stale.value.response["Error"]["Message"].startswith("Invalid checkpoint token")
    with pytest.raises(AttributeError):
        lam.delete_function  # noqa: B018
