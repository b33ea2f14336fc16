"""The AWS transport, checked against botocore's own service model with its Stubber."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.stub import ANY, Stubber

import replayflow
from replayflow import AwsTransport, ServiceError

from .wire import ARN, event, op_id


@pytest.fixture
def client():
    c = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(c) as stubber:
        c.stubber = stubber
        yield c
        stubber.assert_no_pending_responses()


def test_a_workflow_checkpoints_through_boto3_with_requests_valid_for_the_service_model(client):
    when = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    client.stubber.add_response(
        "checkpoint_durable_execution",
        {
            "CheckpointToken": "token-1",
            "NewExecutionState": {
                "Operations": [
                    {
                        "Id": op_id(1),
                        "Type": "STEP",
                        "Status": "SUCCEEDED",
                        "StartTimestamp": when,
                        "EndTimestamp": when,
                        "SubType": "Step",
                        "Name": "greet",
                        "StepDetails": {"Attempt": 1, "Result": '"hi"'},
                    },
                    {
                        "Id": op_id(2),
                        "Type": "WAIT",
                        "Status": "STARTED",
                        "StartTimestamp": when,
                        "SubType": "Wait",
                        "WaitDetails": {"ScheduledEndTimestamp": when + dt.timedelta(seconds=60)},
                    },
                ]
            },
        },
        {
            "DurableExecutionArn": ARN,
            "CheckpointToken": "token-0",
            "ClientToken": ANY,
            "Updates": [
                {"Id": op_id(1), "Type": "STEP", "Action": "START", "SubType": "Step", "Name": "greet"},
                {
                    "Id": op_id(1),
                    "Type": "STEP",
                    "Action": "SUCCEED",
                    "SubType": "Step",
                    "Name": "greet",
                    "Payload": '"hi"',
                },
                {
                    "Id": op_id(2),
                    "Type": "WAIT",
                    "Action": "START",
                    "SubType": "Wait",
                    "WaitOptions": {"WaitSeconds": 60},
                },
            ],
        },
    )

    def greet():
        return "hi"

    @replayflow.durable(transport=AwsTransport(client))
    def wf(_, ctx):
        yield ctx.step(greet)
        yield ctx.wait(minutes=1)

    assert wf(event(), None) == {"Status": "PENDING"}


def test_timestamps_from_boto3_become_epoch_milliseconds(client):
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    client.stubber.add_response(
        "get_durable_execution_state",
        {
            "Operations": [
                {
                    "Id": "a",
                    "Type": "STEP",
                    "Status": "PENDING",
                    "StartTimestamp": when,
                    "StepDetails": {"Attempt": 1, "NextAttemptTimestamp": when},
                }
            ],
            "NextMarker": "n",
        },
        {"DurableExecutionArn": ARN, "CheckpointToken": "t", "Marker": "m", "MaxItems": 1000},
    )
    page = AwsTransport(client).get_durable_execution_state(
        {"DurableExecutionArn": ARN, "CheckpointToken": "t", "Marker": "m", "MaxItems": 1000}
    )
    expected = int(when.timestamp() * 1000)
    (operation,) = page["Operations"]
    assert operation["StartTimestamp"] == expected
    assert operation["StepDetails"]["NextAttemptTimestamp"] == expected
    assert page["NextMarker"] == "n"


@pytest.mark.parametrize(
    ("code", "status", "message", "retryable"),
    [
        ("TooManyRequestsException", 429, "slow down", True),
        ("ServiceException", 500, "boom", True),
        ("InvalidParameterValueException", 400, "Invalid checkpoint token", True),
        ("InvalidParameterValueException", 400, "Inconsistent operation name", False),
        ("ResourceNotFoundException", 404, "no such execution", False),
    ],
)
def test_service_errors_are_classified(client, code, status, message, retryable):
    client.stubber.add_client_error("checkpoint_durable_execution", code, message, http_status_code=status)
    with pytest.raises(ServiceError) as info:
        AwsTransport(client).checkpoint_durable_execution(
            {"DurableExecutionArn": ARN, "CheckpointToken": "t", "Updates": []}
        )
    assert (info.value.code, info.value.status, info.value.retryable) == (code, status, retryable)


def test_the_endpoint_follows_boto3_configuration(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert AwsTransport().client.meta.endpoint_url == "http://127.0.0.1:9"
    assert AwsTransport(endpoint_url="http://127.0.0.1:8").client.meta.endpoint_url == "http://127.0.0.1:8"


def test_a_refused_connection_is_retryable(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    transport = AwsTransport(endpoint_url="http://127.0.0.1:9", region_name="us-east-1", max_attempts=1)
    with pytest.raises(ServiceError) as info:
        transport.checkpoint_durable_execution({"DurableExecutionArn": ARN, "CheckpointToken": "t", "Updates": []})
    assert info.value.retryable
    assert info.value.status is None


def test_missing_configuration_is_not_retryable(monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ServiceError) as info:
        AwsTransport().checkpoint_durable_execution({"DurableExecutionArn": ARN, "CheckpointToken": "t", "Updates": []})
    assert not info.value.retryable
