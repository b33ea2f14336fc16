"""``replayflow history --html`` and ``replayflow console --store`` as a shell runs them, and the view itself."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from replayflow.console import execution_view, render_page
from replayflow.local import LocalDurableService, VirtualClock
from tests.ports import free_port

from . import workflows
from .workflows import SCRIPT

ROOT = Path(__file__).resolve().parents[2]


def _replayflow(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "replayflow", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def _store_with_hostile_run(path: Path) -> str:
    with LocalDurableService(store=path) as service:
        service.register("hostile", workflows.hostile)
        result = service.run("hostile", SCRIPT, name="hostile")
        assert result.status == "FAILED"
        return result.arn


def _embedded(page: str) -> Any:
    match = re.search(r'<script type="application/json" id="rf-data">(.*?)</script>', page, re.S)
    assert match
    return json.loads(match.group(1))


def test_history_html_writes_one_self_contained_page(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    arn = _store_with_hostile_run(store)
    out = tmp_path / "bug-report.html"
    done = _replayflow("history", arn, "--store", str(store), "--html", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert "<script>window.__pwned" not in page and "<img src=x" not in page  # escaped in the data block
    assert page.count("<script") == 2 and "src=" not in page.split("<style>")[0]  # nothing fetched
    assert "script-src 'sha256-" in page  # only the page's own script may run
    view = _embedded(page)
    assert view["execution"]["DurableExecutionArn"] == arn and view["function"] == "hostile"
    names = [op["name"] for op in view["operations"]]
    assert names == [SCRIPT, "fails"]
    failing = view["operations"][1]
    assert failing["status"] == "FAILED" and failing["error"]["ErrorMessage"] == SCRIPT
    assert any("raise ValueError" in line for line in failing["error"]["StackTrace"])
    missing = _replayflow("history", arn + "x", "--store", str(store), "--html", str(out))
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_history_html_shows_what_the_served_console_shows(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    arn = _store_with_hostile_run(store)
    with LocalDurableService(store=store) as service:
        from replayflow.console import Console

        direct = Console(service, 1).execution(arn)
    page = tmp_path / "page.html"
    assert _replayflow("history", arn, "--store", str(store), "--html", str(page)).returncode == 0
    assert _embedded(page.read_text())["operations"] == direct["operations"]


def test_console_opens_a_store_without_running_anything(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    with LocalDurableService(store=store, clock=VirtualClock(autojump=False)) as service:
        service.register("approval", workflows.approval)
        waiting = service.start_execution("approval", "{}", name="waiting")
        service.advance(1)
    port = free_port()
    command = [sys.executable, "-m", "replayflow", "console", "--store", str(store), "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/console/api/executions") as response:
            page = json.loads(response.read())
        assert [(row["name"], row["status"]) for row in page["items"]] == [("waiting", "RUNNING")]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/console/api/functions") as response:
            assert json.loads(response.read()) == {"functions": []}
        assert page["items"][0]["arn"] == waiting
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert _replayflow("console", "--store", str(tmp_path / "none.sqlite")).returncode == 2


def _history(service: LocalDurableService, arn: str) -> list[dict[str, Any]]:
    return list(service.history(arn, max_items=1000, timestamp=lambda ms: ms)["Events"])


def test_the_view_has_attempts_retry_delays_waits_and_nesting() -> None:
    from replayflow.console._demo import attempts, register_demo

    attempts.clear()
    with LocalDurableService(clock=VirtualClock(autojump=False)) as service:
        register_demo(service)
        order = {"id": "v-1", "items": [{"sku": "A", "quantity": 2, "unit": 3}]}
        arn = service.start_execution("fulfil", json.dumps(order))
        service.advance(60)
        view = execution_view(service.describe(arn, timestamp=lambda ms: ms), _history(service, arn))
    ops = {op["name"]: op for op in view["operations"]}
    reserve = ops["reserve"]
    first, second, third = reserve["attempts"]
    assert first["error"]["ErrorType"] == "ConnectionError" and "error" not in third
    for attempt, following in ((first, second), (second, third)):  # each delay is the gap to the next attempt
        assert attempt["retryDelay"] >= 1 and attempt["retryAt"] == following["start"]
        assert following["start"] - attempt["end"] == attempt["retryDelay"] * 1000
    assert "retryDelay" not in third
    assert reserve["status"] == "SUCCEEDED" and reserve["end"] == reserve["attempts"][2]["end"]
    wait = ops["cool-off"]
    assert wait["type"] == "Wait" and wait["end"] - wait["start"] == 5_000 and wait["duration"] == 5
    mapped = ops["price-items"]
    (iteration,) = [op for op in view["operations"] if op["parent"] == mapped["id"]]
    assert [op["name"] for op in view["operations"] if op["parent"] == iteration["id"]] == ["price"]
    callback = next(op for op in view["operations"] if op["type"] == "Callback")
    assert callback["status"] == "STARTED" and callback["callbackId"] and callback["end"] is None
    assert callback["parent"] == ops["approval"]["id"]
    assert view["usage"]["invocations"] == len(view["invocations"]) >= 3
    assert view["usage"]["operations"] == len(view["operations"])


def test_render_page_escapes_what_would_close_its_data_block() -> None:
    view = {"execution": {"DurableExecutionName": "</script><b>x"}, "operations": [], "invocations": []}
    page = render_page(view)
    assert "</script><b>" not in page and "\\u003c/script\\u003e" in page
    assert _embedded(page)["execution"]["DurableExecutionName"] == "</script><b>x"


def test_a_callback_answered_on_a_store_opened_by_the_console_goes_on_when_served_again(tmp_path: Path) -> None:
    from replayflow.console import TOKEN_HEADER, Console

    store = tmp_path / "runs.sqlite"
    with LocalDurableService(store=store, clock=VirtualClock(autojump=False)) as service:
        service.register("approval", workflows.approval)
        arn = service.start_execution("approval", '{"id": 3}', name="later")
        service.advance(1)
    with LocalDurableService(store=store, clock=VirtualClock(autojump=False)) as service:  # what console does
        console = Console(service, 9201, token="t")
        view = console.execution(arn)
        (callback,) = [op for op in view["operations"] if op["type"] == "Callback"]
        headers = {"Host": "127.0.0.1:9201", TOKEN_HEADER: "t"}
        body = json.dumps({"callbackId": callback["callbackId"], "action": "succeed", "result": '"ok"'}).encode()
        status, answer, _ = console.handle("POST", "/console/api/callback", headers, body)
        assert status == 200, answer
        assert service.execution(arn).status == "RUNNING"  # nothing runs here
    with LocalDurableService(store=store, clock=VirtualClock(autojump=False)) as service:
        service.register("approval", workflows.approval)
        assert service.wait(arn, timeout=60).value == {"order": 3, "answer": '"ok"'}


def test_replayflow_serve_serves_the_console_at_its_root_url(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "replayflow", "serve", "tests.console.workflows:approval", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        assert f"console  http://127.0.0.1:{port}/" in lines[1], lines
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
            assert response.headers["Content-Type"].startswith("text/html")
            assert b'<script src="/static/console.js">' in response.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/console/api/functions") as response:
            assert json.loads(response.read()) == {"functions": [{"name": "approval", "durable": True}]}
        _export_from_the_endpoint(f"http://127.0.0.1:{port}", tmp_path / "served.html")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_screenshot_data_has_every_kind_of_execution() -> None:
    from collections import Counter

    from replayflow.console._demo import attempts
    from replayflow.console.screenshots import populate

    attempts.clear()
    with LocalDurableService(clock=VirtualClock(autojump=False)) as service:
        roles = populate(service)
        statuses = Counter(result.status for result in service.executions())
        assert statuses == {"SUCCEEDED": 6, "FAILED": 1, "STOPPED": 1, "RUNNING": 1}  # 3 orders + their 3 ships
        assert service.execution(roles["finished"]).status == "SUCCEEDED"
        assert service.execution(roles["waiting"]).status == "RUNNING"


def _export_from_the_endpoint(url: str, page: Path) -> None:
    import time

    import boto3

    client: Any = boto3.client(
        "lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    arn = client.invoke(FunctionName="approval", InvocationType="Event", Payload=b'{"id": 5}')["DurableExecutionArn"]
    deadline = time.monotonic() + 30
    while len(client.get_durable_execution_history(DurableExecutionArn=arn)["Events"]) < 4:
        assert time.monotonic() < deadline, "the callback was never created"
        time.sleep(0.05)
    done = _replayflow("history", arn, "--endpoint", url, "--html", str(page))
    assert done.returncode == 0, done.stderr
    view = _embedded(page.read_text())
    assert view["execution"]["Status"] == "RUNNING" and view["function"] == "approval"
    callback = next(op for op in view["operations"] if op["type"] == "Callback")
    assert callback["status"] == "STARTED" and callback["callbackId"]
    assert abs(callback["start"] - view["execution"]["StartTimestamp"]) < 60_000  # both epoch milliseconds
    assert view["execution"]["StartTimestamp"] > 1e12


def test_console_on_a_store_another_process_writes_is_one_line_and_exit_2(tmp_path: Path) -> None:
    store = tmp_path / "busy.sqlite"
    with LocalDurableService(store=store, clock=VirtualClock(autojump=False)):  # this process owns it
        refused = _replayflow("console", "--store", str(store), "--port", str(free_port()))
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("replayflow console: ") and len(refused.stderr.strip().splitlines()) == 1
    assert "Traceback" not in refused.stderr
