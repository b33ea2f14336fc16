"""Run the conformance package's own validator against the local durable service.

The package validates a deployed stack: it invokes a Lambda function through its ``sam.Invoker`` (which
resolves the logical function name through CloudFormation and calls ``lambda.invoke``), reads the
execution's history and description through the ``lambda`` client, answers callbacks through the same
client, sleeps between polls, and reads CloudWatch Logs. Here every one of those ends at
:class:`replayflow.local.LocalDurableService`:

* :class:`LocalStack` is the "deployed stack": a fresh service on a virtual clock with every requirement's
  function and every chained-invoke target registered (the real-crash requirements' functions run in the
  service's subprocess invoker).
* :class:`FakeLambdaClient`, :class:`FakeCloudFormation` and :class:`FakeLogs` are boto3-shaped clients
  over the service, raising ``botocore`` ``ClientError`` where the real clients would.
* :class:`VirtualTime` replaces the ``time`` module of the package's ``validate`` and ``cloudwatch``
  modules: ``sleep`` lets that much virtual time go by on the service (firing timers and running the
  invocations they cause), so a 2 s poll or a 1 h wait costs nothing.

The validator itself (``validate.validate_description``, its history matcher, result check, callback
sender and log validator) and its invoker (``sam.Invoker``) run unchanged. Nothing here knows about
requirement ids beyond looking up which function to invoke.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from aws_durable_execution_conformance_tests import cloudwatch, validate
from aws_durable_execution_conformance_tests.sam import Invoker as SamInvoker
from aws_durable_execution_conformance_tests.validate import DescriptionResult
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

import replayflow
from replayflow.local import InProcessInvoker, InvocationOutcome, Invoker, LambdaContext, LocalDurableService
from replayflow.local.clock import VirtualClock
from replayflow.local.records import Function
from replayflow.local.subprocess_invoker import SubprocessInvoker
from tests.conformance.registry import REQUIREMENTS, TARGETS, Requirement, load_all
from tests.conformance.runtime_logs import SINK_ENV, OutputCapture

__all__ = [
    "STACK_NAME",
    "FakeCloudFormation",
    "FakeLambdaClient",
    "FakeLogs",
    "LocalStack",
    "LogSink",
    "VirtualTime",
    "run_requirement",
]

load_all()

STACK_NAME = "replayflow-conformance"
REGION = "us-east-1"
#: Real seconds a handler may run before the subprocess invoker kills it (the function timeout).
FUNCTION_TIMEOUT = 60.0


# -- errors ------------------------------------------------------------------------------------------------------


def client_error(error: replayflow.ServiceError, operation: str) -> ClientError:
    """The botocore ``ClientError`` a boto3 client raises for the service error ``error``."""
    response: Any = {
        "Error": {"Code": error.code, "Message": error.message},
        "ResponseMetadata": {"HTTPStatusCode": error.status or 500},
    }
    return ClientError(response, operation)


@contextlib.contextmanager
def _as_client_errors(operation: str) -> Iterator[None]:
    try:
        yield
    except replayflow.ServiceError as error:
        raise client_error(error, operation) from error


# -- logs --------------------------------------------------------------------------------------------------------


class LogSink:
    """CloudWatch Logs as the functions' log events land in it: per log group, in ingestion order.

    Every event gets the service's (virtual) time as its ``timestamp`` and a strictly increasing
    ``ingestionTime``, so that ``(timestamp, ingestionTime)`` orders events as they were emitted.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._groups: dict[str, list[dict[str, Any]]] = {}
        self._last_ingestion = 0

    def append(self, group: str, stream: str, message: str) -> None:
        with self._lock:
            timestamp = round(self._clock() * 1000)
            ingestion = max(self._last_ingestion + 1, timestamp)
            self._last_ingestion = ingestion
            events = self._groups.setdefault(group, [])
            events.append(
                {
                    "logStreamName": stream,
                    "timestamp": timestamp,
                    "message": message,
                    "ingestionTime": ingestion,
                    "eventId": f"{ingestion:020d}{len(events):08d}",
                }
            )

    def events(self, group: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._groups.get(group, ()))

    def groups(self) -> list[str]:
        with self._lock:
            return list(self._groups)


_TERM = re.compile(r'\(\s*\$\.([A-Za-z0-9_.]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*\)')


def json_filter(pattern: str) -> Callable[[str], bool]:
    """A matcher for the CloudWatch JSON filter patterns ``{ ($.a = "x") || ($.b = "y") }`` (or ``&&``).

    Only string equality terms joined by one kind of operator are supported; anything else is refused
    (``InvalidParameterException``), so an unsupported pattern cannot pass silently.
    """
    body = pattern.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError(f"not a JSON filter pattern: {pattern!r}")
    body = body[1:-1].strip()
    terms = [(field.split("."), json.loads(f'"{value}"')) for field, value in _TERM.findall(body)]
    rest = _TERM.sub("", body).strip()
    operators = set(rest.split())
    if not terms or not operators <= {"||", "&&"} or len(operators) > 1:
        raise ValueError(f"unsupported JSON filter pattern: {pattern!r}")
    combine = all if operators == {"&&"} else any

    def value_at(record: Any, path: list[str]) -> Any:
        for key in path:
            if not isinstance(record, dict) or key not in record:
                return None
            record = record[key]
        return record

    def matches(message: str) -> bool:
        try:
            record = json.loads(message)
        except ValueError:
            return False
        return isinstance(record, dict) and combine(value_at(record, path) == value for path, value in terms)

    return matches


class FakeLogs:
    """The ``logs`` client: ``filter_log_events`` over a :class:`LogSink`."""

    PAGE_SIZE = 10_000

    def __init__(self, sink: LogSink) -> None:
        self._sink = sink

    def filter_log_events(
        self,
        logGroupName: str,
        startTime: int | None = None,
        endTime: int | None = None,
        filterPattern: str | None = None,
        nextToken: str | None = None,
        limit: int | None = None,
        **ignored: Any,
    ) -> dict[str, Any]:
        if logGroupName not in self._sink.groups():
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "The specified log group does not exist."}},
                "FilterLogEvents",
            )
        try:
            matches = json_filter(filterPattern) if filterPattern else None
        except ValueError as exc:
            raise ClientError(
                {"Error": {"Code": "InvalidParameterException", "Message": str(exc)}}, "FilterLogEvents"
            ) from exc
        selected = [
            event
            for event in self._sink.events(logGroupName)
            if (startTime is None or event["timestamp"] >= startTime)
            and (endTime is None or event["timestamp"] <= endTime)
            and (matches is None or matches(event["message"]))
        ]
        start = int(nextToken) if nextToken else 0
        size = min(limit or self.PAGE_SIZE, self.PAGE_SIZE)
        page = selected[start : start + size]
        response: dict[str, Any] = {"events": page, "searchedLogStreams": []}
        if start + size < len(selected):
            response["nextToken"] = str(start + size)
        return response


class CapturingInvoker:
    """Wraps the service's invoker: what each invocation logs lands in its function's log group.

    In-process invocations are captured through :class:`OutputCapture` as they happen; a worker process
    appends its lines to a file (see :mod:`tests.conformance.runtime_logs`), read after each invocation.
    """

    def __init__(self, inner: Invoker, sink: LogSink, capture: OutputCapture, log_file: Path | None = None) -> None:
        self.inner = inner
        self._sink = sink
        self._capture = capture
        self._log_file = log_file
        self._offset = 0

    def invoke(
        self, function: Function, event: Any, context: LambdaContext, transport: replayflow.Transport
    ) -> InvocationOutcome:
        group, stream = context.log_group_name, context.log_stream_name
        self._platform(group, stream, "platform.start", {"requestId": context.aws_request_id, "version": "$LATEST"})
        try:
            if self._log_file is not None:
                try:
                    return self.inner.invoke(function, event, context, transport)
                finally:
                    self._drain(group, stream)
            previous = self._capture.sink
            self._capture.sink = lambda line: self._sink.append(group, stream, line)
            try:
                return self.inner.invoke(function, event, context, transport)
            finally:
                self._capture.sink = previous
        finally:
            self._platform(group, stream, "platform.report", {"requestId": context.aws_request_id})

    def _platform(self, group: str, stream: str, kind: str, record: dict[str, Any]) -> None:
        """The runtime's own JSON record around each invocation (it also creates the log group)."""
        self._sink.append(group, stream, json.dumps({"type": kind, "record": record}))

    def _drain(self, group: str, stream: str) -> None:
        assert self._log_file is not None
        if not self._log_file.exists():
            return
        with self._log_file.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.decode().splitlines():
            self._sink.append(group, stream, line)

    def close(self) -> None:
        self.inner.close()


# -- the lambda and cloudformation clients --------------------------------------------------------------------


class FakeLambdaClient:
    """The boto3 ``lambda`` client the validator and its invoker use, over the local service."""

    def __init__(self, service: LocalDurableService) -> None:
        self._service = service

    def invoke(
        self,
        FunctionName: str,
        InvocationType: str = "RequestResponse",
        Qualifier: str | None = None,
        Payload: bytes | str | None = None,
        **ignored: Any,
    ) -> dict[str, Any]:
        with _as_client_errors("Invoke"):
            response = self._service.invoke(
                FunctionName=FunctionName, Payload=Payload, InvocationType=InvocationType, Qualifier=Qualifier
            )
        body = response.get("Payload") or b""
        response["Payload"] = StreamingBody(io.BytesIO(body), len(body))
        headers = {}
        if response.get("DurableExecutionArn"):
            headers["x-amz-durable-execution-arn"] = response["DurableExecutionArn"]
        response["ResponseMetadata"] = {"HTTPStatusCode": response["StatusCode"], "HTTPHeaders": headers}
        return response

    def get_durable_execution(self, **kwargs: Any) -> dict[str, Any]:
        with _as_client_errors("GetDurableExecution"):
            return self._service.get_durable_execution(**kwargs)

    def get_durable_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        with _as_client_errors("GetDurableExecutionHistory"):
            return self._service.get_durable_execution_history(**kwargs)

    def send_durable_execution_callback_success(self, **kwargs: Any) -> dict[str, Any]:
        with _as_client_errors("SendDurableExecutionCallbackSuccess"):
            return self._service.send_durable_execution_callback_success(**kwargs)

    def send_durable_execution_callback_failure(self, **kwargs: Any) -> dict[str, Any]:
        with _as_client_errors("SendDurableExecutionCallbackFailure"):
            return self._service.send_durable_execution_callback_failure(**kwargs)

    def send_durable_execution_callback_heartbeat(self, **kwargs: Any) -> dict[str, Any]:
        with _as_client_errors("SendDurableExecutionCallbackHeartbeat"):
            return self._service.send_durable_execution_callback_heartbeat(**kwargs)


class _Paginator:
    def __init__(self, pages: Callable[..., list[dict[str, Any]]]) -> None:
        self._pages = pages

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        yield from self._pages(**kwargs)


class FakeCloudFormation:
    """The ``cloudformation`` client: the stack's Lambda functions, logical id -> physical name."""

    def __init__(self, stack_name: str, functions: dict[str, str]) -> None:
        self.stack_name = stack_name
        self._functions = dict(functions)

    def _check_stack(self, name: str, operation: str) -> None:
        if name != self.stack_name:
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": f"Stack with id {name} does not exist"}}, operation
            )

    def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:
        self._check_stack(StackName, "DescribeStackResource")
        physical = self._functions.get(LogicalResourceId)
        if physical is None:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ValidationError",
                        "Message": f"Resource {LogicalResourceId} does not exist for stack {StackName}",
                    }
                },
                "DescribeStackResource",
            )
        return {"StackResourceDetail": self._summary(LogicalResourceId, physical)}

    def _summary(self, logical: str, physical: str) -> dict[str, Any]:
        return {
            "StackName": self.stack_name,
            "LogicalResourceId": logical,
            "PhysicalResourceId": physical,
            "ResourceType": "AWS::Lambda::Function",
            "ResourceStatus": "CREATE_COMPLETE",
        }

    def _list_pages(self, StackName: str, **ignored: Any) -> list[dict[str, Any]]:
        self._check_stack(StackName, "ListStackResources")
        return [{"StackResourceSummaries": [self._summary(k, v) for k, v in self._functions.items()]}]

    def get_paginator(self, operation: str) -> _Paginator:
        if operation != "list_stack_resources":
            raise NotImplementedError(operation)
        return _Paginator(self._list_pages)


# -- time --------------------------------------------------------------------------------------------------------


class VirtualTime:
    """Stands in for the ``time`` module of the validator: its clock is the service's virtual clock."""

    def __init__(self, service: LocalDurableService) -> None:
        self._service = service

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time go by: due timers fire and the invocations they cause run."""
        self._service.advance(max(seconds, 0.0))

    def time(self) -> float:
        return self._service.clock.now()

    def monotonic(self) -> float:
        return self._service.clock.now()


@contextlib.contextmanager
def validator_time(service: LocalDurableService) -> Iterator[VirtualTime]:
    """Make the validator's ``validate.time`` and ``cloudwatch.time`` read and move the service's clock."""
    virtual = VirtualTime(service)
    saved = validate.time, cloudwatch.time
    validate.time = virtual
    cloudwatch.time = virtual
    try:
        yield virtual
    finally:
        validate.time, cloudwatch.time = saved


# -- the stack -----------------------------------------------------------------------------------------------------


def physical_name(logical: str) -> str:
    """The deployed function name of a logical function (as CloudFormation would name it)."""
    return f"{STACK_NAME}-{logical}"


class LocalStack:
    """Every conformance function and target, registered with a fresh local durable service.

    Use as a context manager: it captures the functions' log output for its lifetime and closes the
    service (and its worker processes) at the end.
    """

    def __init__(self, work_dir: Path, requirements: Mapping[str, Requirement] | None = None) -> None:
        self.work_dir = work_dir
        self.requirements = REQUIREMENTS if requirements is None else requirements
        self.clock = VirtualClock()
        self.logs = LogSink(self.clock.now)
        self.capture = OutputCapture()
        self.service = LocalDurableService(
            clock=self.clock,
            region=REGION,
            invoker=CapturingInvoker(InProcessInvoker(), self.logs, self.capture),
            function_timeout=FUNCTION_TIMEOUT,
        )
        self._process_invoker: CapturingInvoker | None = None
        self.functions: dict[str, str] = {}
        for fn_target in TARGETS.values():
            self.service.register(fn_target.function_name, fn_target.spec, durable=fn_target.durable)
        for req in self.requirements.values():
            self._register(req)
        self.lambda_client = FakeLambdaClient(self.service)
        self.cloudformation = FakeCloudFormation(STACK_NAME, self.functions)
        self.logs_client = FakeLogs(self.logs)
        self.invoker = SamInvoker(
            STACK_NAME, region=REGION, lambda_client=self.lambda_client, cfn_client=self.cloudformation
        )

    def _register(self, req: Requirement) -> None:
        name = physical_name(req.function_name)
        if name in self.functions.values():
            return
        invoker = self._subprocess_invoker() if req.process else None
        self.service.register(name, req.spec, invoker=invoker)
        self.functions[req.function_name] = name

    def _subprocess_invoker(self) -> CapturingInvoker:
        if self._process_invoker is None:
            log_file = self.work_dir / "worker-logs.jsonl"
            inner = SubprocessInvoker(env={SINK_ENV: str(log_file)})
            self._process_invoker = CapturingInvoker(inner, self.logs, self.capture, log_file)
        return self._process_invoker

    def clients(self) -> dict[str, Any]:
        """The ``aws_clients`` mapping the validator takes."""
        return {"lambda": self.lambda_client, "cloudformation": self.cloudformation, "logs": self.logs_client}

    def __enter__(self) -> LocalStack:
        self.capture.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.service.close()
        finally:
            self.capture.__exit__(*exc)


def run_requirement(
    rid: str,
    test_file: str | Path,
    work_dir: str | Path | None = None,
    requirements: Mapping[str, Requirement] | None = None,
) -> DescriptionResult:
    """Validate requirement ``rid`` (its YAML at ``test_file``) with the package's ``validate_description``.

    ``requirements`` replaces the registry (the harness's own tests use it to check that wrong functions fail).
    """
    requirements = REQUIREMENTS if requirements is None else requirements
    req = requirements.get(rid)
    if req is None:
        return DescriptionResult(description_id=rid, function_name="", passed=False, errors=[f"no function for {rid}"])
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix=f"conformance-{rid}-"))
        work = Path(work_dir)
        (work / "events").mkdir(parents=True, exist_ok=True)
        local = stack.enter_context(LocalStack(work, requirements))
        stack.enter_context(validator_time(local.service))
        result: DescriptionResult = validate.validate_description(
            req.function_name,
            rid,
            str(test_file),
            local.invoker,
            str(work / "events"),
            region=REGION,
            aws_clients=local.clients(),
            output_dir=str(work / "history"),
        )
        return result
