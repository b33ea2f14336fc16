"""The console's JSON API over a real socket: listing, the execution view, actions, and who may call them."""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from typing import Any

import pytest

from replayflow.console import PAGE_LIMIT, TOKEN_HEADER
from replayflow.local import LocalDurableService, LocalHttpServer


def _request(
    server: LocalHttpServer,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        data = None if body is None else json.dumps(body).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        raw = response.read()
        kind = response.getheader("Content-Type") or ""
        return response.status, json.loads(raw) if kind.startswith("application/json") else raw.decode()
    finally:
        conn.close()


def _token(server: LocalHttpServer) -> str:
    status, page = _request(server, "GET", "/")
    assert status == 200
    match = re.search(r'name="replayflow-token" content="([^"]+)"', page)
    assert match
    return match.group(1)


def _post(server: LocalHttpServer, path: str, body: Any, **headers: str) -> tuple[int, Any]:
    return _request(server, "POST", path, body, {TOKEN_HEADER: _token(server), **headers})


def _pending_callback(service: LocalDurableService, arn: str) -> str:
    service.advance(1)
    events = service.history(arn)["Events"]
    return next(e["CallbackStartedDetails"]["CallbackId"] for e in events if e["EventType"] == "CallbackStarted")


def test_the_root_url_serves_the_console_and_the_rest_api_still_answers(server: LocalHttpServer) -> None:
    status, page = _request(server, "GET", "/")
    assert status == 200 and "/static/console.js" in page
    status, script = _request(server, "GET", "/static/console.js")
    assert status == 200 and "textContent" in script
    status, _ = _request(server, "GET", "/static/../setup.cfg")
    assert status == 404
    status, out = _request(server, "GET", "/2025-12-01/functions/approval/durable-executions")
    assert status == 200 and out == {"DurableExecutions": []}


def test_a_callback_answered_through_the_api_finishes_the_run(
    server: LocalHttpServer, service: LocalDurableService
) -> None:
    status, started = _post(server, "/console/api/start", {"function": "approval", "input": '{"id": 7}'})
    assert status == 200
    arn = started["arn"]
    callback_id = _pending_callback(service, arn)
    status, view = _request(server, "GET", "/console/api/execution?arn=" + urllib.parse.quote(arn))
    assert status == 200 and view["execution"]["Status"] == "RUNNING"
    pending = [op for op in view["operations"] if op["type"] == "Callback"]
    assert [op["callbackId"] for op in pending] == [callback_id] and pending[0]["status"] == "STARTED"
    assert _post(server, "/console/api/callback", {"callbackId": callback_id, "action": "heartbeat"})[0] == 200
    answer = {"callbackId": callback_id, "action": "succeed", "result": '"yes"'}
    assert _post(server, "/console/api/callback", answer)[0] == 200
    assert service.wait(arn, timeout=60).value == {"order": 7, "answer": '"yes"'}  # raw text by default
    status, again = _post(server, "/console/api/callback", answer)
    assert status == 400 and again["error"] == "CallbackTimeoutException"


def test_failing_a_callback_and_stopping_an_execution(server: LocalHttpServer, service: LocalDurableService) -> None:
    failed = _post(server, "/console/api/start", {"function": "approval", "input": "{}"})[1]["arn"]
    stopped = _post(server, "/console/api/start", {"function": "approval", "input": "{}", "name": "to-stop"})[1]["arn"]
    callback_id = _pending_callback(service, failed)
    error = {"ErrorType": "Rejected", "ErrorMessage": "no"}
    assert (
        _post(server, "/console/api/callback", {"callbackId": callback_id, "action": "fail", "error": error})[0] == 200
    )
    result = service.wait(failed, timeout=60)
    assert result.status == "FAILED" and result.error is not None and result.error["ErrorType"] == "Rejected"
    assert _post(server, "/console/api/stop", {"arn": stopped})[0] == 200
    assert service.execution(stopped).status == "STOPPED"
    status, out = _post(server, "/console/api/stop", {"arn": stopped})
    assert status == 400 and "not running" in out["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"function": "approval", "input": "{not json"}, "not JSON"),
        ({"function": "nope", "input": "{}"}, "Function not found"),
        ({"function": "approval"}, None),
    ],
)
def test_start_rejects_bad_input_clearly(server: LocalHttpServer, body: dict[str, Any], message: str | None) -> None:
    status, out = _post(server, "/console/api/start", body)
    if message is None:  # input defaults to null
        assert status == 200 and out["arn"]
    else:
        assert status in (400, 404) and message in out["message"]


def test_mutating_requests_need_the_token_the_same_origin_and_a_loopback_host(
    server: LocalHttpServer, service: LocalDurableService
) -> None:
    token = _token(server)
    start = {"function": "approval", "input": "{}"}
    own = f"http://127.0.0.1:{server.port}"
    refused = [
        {},  # no token: a cross-site form or fetch cannot add the header
        {TOKEN_HEADER: "wrong"},
        {TOKEN_HEADER: token, "Origin": "http://evil.example"},
        {TOKEN_HEADER: token, "Origin": f"http://127.0.0.1:{server.port + 1}"},
        {TOKEN_HEADER: token, "Sec-Fetch-Site": "cross-site"},
        {TOKEN_HEADER: token, "Host": "evil.example"},  # DNS rebinding
    ]
    for headers in refused:
        status, out = _request(server, "POST", "/console/api/start", start, headers)
        assert status == 403, headers
        assert out["error"] == "Forbidden"
    assert list(service.executions()) == []
    status, _ = _request(server, "GET", "/", headers={"Host": f"rebound.example:{server.port}"})
    assert status == 403  # not even the page (which holds the token)
    status, _ = _request(server, "GET", "/console/api/executions", headers={"Host": "evil.example"})
    assert status == 403
    ok = {TOKEN_HEADER: token, "Origin": own, "Sec-Fetch-Site": "same-origin"}
    assert _request(server, "POST", "/console/api/start", start, ok)[0] == 200
    assert len(list(service.executions())) == 1


def test_every_console_answer_forbids_framing_and_inline_script(server: LocalHttpServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/")
    response = conn.getresponse()
    response.read()
    conn.close()
    policy = response.getheader("Content-Security-Policy") or ""
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert response.getheader("X-Frame-Options") == "DENY"


def test_ten_thousand_executions_list_one_page_at_a_time(service: LocalDurableService) -> None:
    arns = [service.start_execution("approval", "{}", name=f"order-{i:05d}") for i in range(10_000)]
    for arn in arns[::10]:
        service.stop_durable_execution(arn)
    with LocalHttpServer(service, workers=0) as server:  # nothing runs: the calls counted are the console's
        _ten_thousand(server, service)


def _ten_thousand(server: LocalHttpServer, service: LocalDurableService) -> None:
    before = dict(service.calls)
    status, page = _request(server, "GET", "/console/api/executions?limit=50")
    assert status == 200
    assert [row["name"] for row in page["items"]] == [f"order-{i:05d}" for i in range(9_999, 9_949, -1)]
    assert page["total"] == 10_000 and page["counts"] == {"RUNNING": 9_000, "STOPPED": 1_000}
    assert page["nextMarker"] == "50"
    spent = {k: n - before.get(k, 0) for k, n in service.calls.items() if n != before.get(k, 0)}
    # one GetDurableExecution and one history page per row shown, none for the 9,950 others
    assert spent == {"GetDurableExecution": 50}  # and no history read: usage is the service's own meter

    status, stopped = _request(server, "GET", "/console/api/executions?status=STOPPED&name=order-09&marker=20&limit=10")
    assert [row["name"] for row in stopped["items"]] == [f"order-{i:05d}" for i in range(9_790, 9_690, -10)]
    assert stopped["total"] == 100 and all(row["status"] == "STOPPED" for row in stopped["items"])
    status, big = _request(server, "GET", "/console/api/executions?limit=100000")
    assert len(big["items"]) == PAGE_LIMIT
    status, none = _request(server, "GET", "/console/api/executions?function=wide")
    assert none["items"] == [] and none["total"] == 0
    status, bad = _request(server, "GET", "/console/api/executions?limit=many")
    assert status == 400 and "integer" in bad["message"]


def test_usage_of_a_3000_operation_execution_against_the_quotas(
    server: LocalHttpServer, service: LocalDurableService
) -> None:
    arn = service.start_execution("wide", "1499")
    service.advance(1)
    assert service.wait(arn, timeout=30).status == "SUCCEEDED"
    status, page = _request(server, "GET", "/console/api/executions?function=wide")
    usage = page["items"][0]["usage"]
    assert usage["operations"] == 3_000 and usage["invocations"] >= 1 and usage["bytes"] > 3_000
    before = service.calls["GetDurableExecutionHistory"]
    _request(server, "GET", "/console/api/executions?function=wide")
    assert service.calls["GetDurableExecutionHistory"] == before  # an ended execution's usage is kept
    status, view = _request(server, "GET", "/console/api/execution?arn=" + urllib.parse.quote(arn))
    assert len(view["operations"]) == 3_000 and view["quotas"] == {"operations": 3_000, "bytes": 100_000_000}
    before = dict(service.calls)
    poll = f"/console/api/execution?arn={urllib.parse.quote(arn)}&known={view['lastEventId']}"
    assert _request(server, "GET", poll)[1] == {"unchanged": True, "lastEventId": view["lastEventId"]}
    spent = {k: n - before.get(k, 0) for k, n in service.calls.items() if n != before.get(k, 0)}
    assert spent == {"GetDurableExecutionHistory": 1}  # a poll of an unchanged execution reads one event
    stale = f"/console/api/execution?arn={urllib.parse.quote(arn)}&known={view['lastEventId'] - 1}"
    assert len(_request(server, "GET", stale)[1]["operations"]) == 3_000
    status, missing = _request(server, "GET", "/console/api/execution?arn=arn:nope")
    assert status == 404 and missing["error"] == "ResourceNotFoundException"


def test_a_cross_site_browser_call_to_the_rest_api_is_refused_and_boto3_is_not(
    server: LocalHttpServer, service: LocalDurableService
) -> None:
    import boto3

    invoke = "/2015-03-31/functions/approval/invocations"
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        status, out = _request(server, "POST", invoke, {}, {"X-Amz-Invocation-Type": "Event", **headers})
        assert status == 403 and "refused" in out["message"]
    assert list(service.executions()) == []
    client = boto3.client(
        "lambda", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    started = client.invoke(FunctionName="approval", InvocationType="Event", Payload=b"{}")
    assert started["StatusCode"] == 202 and len(list(service.executions())) == 1
