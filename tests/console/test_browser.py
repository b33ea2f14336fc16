"""The console in headless Chromium: click through the list, a timeline, answer a callback, stop a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from replayflow.console import Console, render_page
from replayflow.local import LocalDurableService, LocalHttpServer

from .conftest import execution_url
from .workflows import SCRIPT


def _wait(browser: Any, condition: Any, timeout: float = 15) -> Any:
    """Wait for ``condition``; elements replaced by a live update meanwhile are looked up again."""
    return WebDriverWait(browser, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def _css(browser: Any, selector: str) -> list[Any]:
    return list(browser.find_elements(By.CSS_SELECTOR, selector))


def _texts(browser: Any, selector: str) -> list[str]:
    """The text of every element matching ``selector``, read in one go (no element goes stale)."""
    script = "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText)"
    return list(browser.execute_script(script, selector))


def _click(browser: Any, selector: str) -> None:
    _wait(browser, lambda b: b.find_element(By.CSS_SELECTOR, selector).click() or True)


def _status(browser: Any) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, ".rf-exec-head .rf-status").text)


def _waiting(service: LocalDurableService, name: str) -> str:
    arn = service.start_execution("approval", json.dumps({"id": name}), name=name)
    service.advance(1)
    assert service.execution(arn).status == "RUNNING"
    return arn


def test_list_filters_and_opens_an_execution_timeline(
    browser: Any, server: LocalHttpServer, service: LocalDurableService
) -> None:
    for name in ("first", "second", "third"):
        _waiting(service, name)
    service.stop_durable_execution(next(r.arn for r in service.executions() if r.arn.split("/")[-2] == "second"))
    browser.get(server.url + "/")
    _wait(browser, lambda b: len(_css(b, "tr.rf-exec-row")) == 3)
    assert _texts(browser, "tr.rf-exec-row .rf-exec-link") == ["third", "second", "first"]  # newest first
    assert "0 / 3,000" not in browser.find_element(By.ID, "rf-executions").text  # usage is counted
    assert "/ 100 MB" in browser.find_element(By.ID, "rf-executions").text

    Select(browser.find_element(By.ID, "rf-filter-status")).select_by_value("STOPPED")
    _wait(browser, lambda b: _texts(b, "tr.rf-exec-row .rf-exec-link") == ["second"])

    third = _waiting(service, "fourth")  # live: a new execution shows up without a reload
    Select(browser.find_element(By.ID, "rf-filter-status")).select_by_value("")
    _wait(browser, lambda b: len(_css(b, "tr.rf-exec-row")) == 4)
    _click(browser, "a.rf-exec-link")  # the newest: fourth
    _wait(browser, lambda b: _css(b, ".rf-op"))
    assert third in _texts(browser, ".rf-exec-head")[0]
    types = browser.execute_script("return Array.from(document.querySelectorAll('.rf-op')).map(e => e.dataset.type)")
    assert types == ["Context", "Callback", "Step"]  # the wait_for_callback context, then what it holds
    assert _css(browser, '.rf-op[data-type="Callback"] rect.rf-b-callback.rf-b-open')  # a span still open
    _click(browser, '.rf-op[data-type="Callback"]')
    _wait(browser, lambda b: "Callback id" in _texts(b, "#rf-details")[0])
    assert "STARTED" in _texts(browser, "#rf-details")[0]
    assert _css(browser, ".rf-axis rect.rf-invocation")  # invocations are marked


def test_answering_a_callback_in_the_browser_finishes_the_run(
    browser: Any, server: LocalHttpServer, service: LocalDurableService
) -> None:
    arn = _waiting(service, "order-1")
    browser.get(execution_url(server, arn))
    editor = _wait(browser, ec.element_to_be_clickable((By.CSS_SELECTOR, "textarea.rf-cb-result")))
    editor.clear()
    editor.send_keys('{"approved": tru')
    assert "valid JSON" not in browser.find_element(By.CSS_SELECTOR, ".rf-json-note").text
    editor.send_keys("e}")
    assert browser.find_element(By.CSS_SELECTOR, ".rf-json-note").text == "valid JSON"
    browser.find_element(By.CSS_SELECTOR, "button.rf-cb-succeed").click()
    assert service.wait(arn, timeout=15).value == {"order": "order-1", "answer": '{"approved": true}'}
    _wait(browser, lambda b: _status(b) == "SUCCEEDED")
    result = browser.find_element(By.CSS_SELECTOR, ".rf-io .rf-result pre").text
    assert json.loads(result) == {"order": "order-1", "answer": '{"approved": true}'}
    assert not _css(browser, "button.rf-cb-succeed") and not _css(browser, "#rf-stop")


def test_stopping_an_execution_in_the_browser(
    browser: Any, server: LocalHttpServer, service: LocalDurableService
) -> None:
    arn = _waiting(service, "to-stop")
    browser.get(execution_url(server, arn))
    _wait(browser, ec.element_to_be_clickable((By.ID, "rf-stop"))).click()
    _wait(browser, ec.alert_is_present()).accept()
    _wait(browser, lambda b: _status(b) == "STOPPED")
    assert service.execution(arn).status == "STOPPED"


def test_starting_an_execution_from_the_browser(
    browser: Any, server: LocalHttpServer, service: LocalDurableService
) -> None:
    browser.get(server.url + "/#/start")
    _wait(browser, lambda b: len(Select(b.find_element(By.ID, "rf-start-function")).options) == 3)
    Select(browser.find_element(By.ID, "rf-start-function")).select_by_value("approval")
    browser.find_element(By.ID, "rf-start-name").send_keys("from-the-browser")
    area = browser.find_element(By.CSS_SELECTOR, "textarea.rf-start-input")
    area.clear()
    area.send_keys('{"id": 42}')
    browser.find_element(By.ID, "rf-start").click()
    _wait(browser, lambda b: "#/execution/" in b.current_url and _css(b, ".rf-exec-name"))
    assert browser.find_element(By.CSS_SELECTOR, ".rf-exec-name").text == "from-the-browser"
    (started,) = list(service.executions())
    assert started.arn.split("/")[-2] == "from-the-browser"
    assert json.loads(service.describe(started.arn)["InputPayload"]) == {"id": 42}


def _assert_shown_not_run(browser: Any) -> None:
    _wait(browser, lambda b: _css(b, '.rf-op[data-type="Step"]'))
    for index in range(len(_css(browser, ".rf-op"))):
        _click(browser, f".rf-op:nth-child({index + 1})")
        assert SCRIPT in _texts(browser, "#rf-details")[0]
    assert browser.execute_script("return window.__pwned === undefined")
    assert not _css(browser, "#rf-main script, #rf-main img")


def test_a_script_payload_is_shown_as_text_live_and_in_the_exported_page(
    browser: Any, server: LocalHttpServer, service: LocalDurableService, tmp_path: Path
) -> None:
    arn = service.start_execution("hostile", json.dumps(SCRIPT), name="hostile")
    service.advance(1)
    assert service.execution(arn).status == "FAILED"
    browser.get(execution_url(server, arn))
    _assert_shown_not_run(browser)
    assert SCRIPT in browser.find_element(By.CSS_SELECTOR, ".rf-io").text  # input and error, pretty-printed
    page = tmp_path / "hostile.html"
    page.write_text(render_page(Console(service, server.port).execution(arn)))
    browser.get(page.as_uri())
    _assert_shown_not_run(browser)
    assert not _css(browser, "#rf-stop, .rf-callback")  # an exported page has no actions


def test_a_3000_operation_execution_renders_lazily(
    browser: Any, server: LocalHttpServer, service: LocalDurableService
) -> None:
    arn = service.start_execution("wide", "1499")
    service.advance(1)
    assert service.wait(arn, timeout=60).status == "SUCCEEDED"
    browser.get(execution_url(server, arn))
    _wait(browser, lambda b: _css(b, ".rf-op"))
    assert len(_css(browser, ".rf-op")) == 2  # the step and the map; 2,998 operations not rendered
    assert "3000 / 3,000" in browser.find_element(By.CSS_SELECTOR, ".rf-usage").text
    browser.find_element(By.CSS_SELECTOR, '.rf-op[data-type="Context"] .rf-toggle').click()
    _wait(browser, lambda b: len(_css(b, ".rf-op")) == 102)  # + the first 100 iterations, folded
    more = browser.find_element(By.CSS_SELECTOR, ".rf-more-button")
    assert "1399 remaining" in more.text
    more.click()
    _wait(browser, lambda b: len(_css(b, ".rf-op")) == 202)
    nodes = browser.execute_script("return document.getElementsByTagName('*').length")
    assert nodes < 3_000, nodes  # about a dozen nodes per shown row, nothing for the rest


def test_ten_thousand_executions_page_fifty_rows_at_a_time(browser: Any, service: LocalDurableService) -> None:
    for i in range(10_000):
        service.start_execution("approval", "{}", name=f"order-{i:05d}")
    with LocalHttpServer(service, workers=0) as server:  # nothing runs; the page is what is measured
        browser.get(server.url + "/")
        _wait(browser, lambda b: len(_css(b, "tr.rf-exec-row")) == 50)
        assert _texts(browser, ".rf-summary")[0].startswith("1\u201350 of 10000")
        assert _texts(browser, "tr.rf-exec-row .rf-exec-link")[0] == "order-09999"
        _click(browser, "#rf-next")
        _wait(browser, lambda b: _texts(b, "tr.rf-exec-row .rf-exec-link")[:1] == ["order-09949"])
        assert len(_css(browser, "tr.rf-exec-row")) == 50
        assert _texts(browser, ".rf-summary")[0].startswith("51\u2013100 of 10000")
        nodes = browser.execute_script("return document.getElementsByTagName('*').length")
        assert nodes < 1_500, nodes  # 50 rows, not 10,000


def test_the_timeline_draws_attempts_retry_delays_waits_invokes_and_nesting(
    browser: Any, server: LocalHttpServer, service: LocalDurableService
) -> None:
    from replayflow.console._demo import attempts, register_demo

    attempts.clear()
    register_demo(service)
    arn = service.start_execution(
        "fulfil", json.dumps({"id": "t-1", "items": [{"sku": "A", "quantity": 1, "unit": 2}]})
    )
    service.advance(60)
    events = service.history(arn, max_items=1000)["Events"]
    callback_id = next(e["CallbackStartedDetails"]["CallbackId"] for e in events if e["EventType"] == "CallbackStarted")
    service.send_durable_execution_callback_failure(callback_id, {"ErrorType": "Rejected", "ErrorMessage": "no"})
    service.advance(5)
    assert service.execution(arn).status == "FAILED"
    browser.get(execution_url(server, arn))
    _wait(browser, lambda b: _css(b, ".rf-op"))
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('.rf-op')).map(e => [e.querySelector('.rf-op-name').textContent,"
        " +e.dataset.depth, Array.from(e.querySelectorAll('rect')).map(r => r.getAttribute('class'))])"
    )
    by_name = {name: (depth, classes) for name, depth, classes in rows}
    depth, reserve = by_name["reserve"]
    assert depth == 0
    assert reserve == [
        "rf-bar rf-b-failed",
        "rf-bar rf-b-delay",
        "rf-bar rf-b-failed",
        "rf-bar rf-b-delay",
        "rf-bar rf-b-succeeded",
    ]  # three attempts with the two retry delays between them
    assert by_name["cool-off"][1] == ["rf-bar rf-b-wait"]
    assert [by_name[n][0] for n in ("price-items", "map-item-0", "price")] == [0, 1, 2]  # nested under parents
    assert by_name["approval create callback id"] == (1, ["rf-bar rf-b-callback rf-b-bad"])  # failed: red edge
    assert _css(browser, '.rf-op[data-status="FAILED"] .rf-status.rf-s-failed')
    assert "Rejected" in _texts(browser, ".rf-io .rf-error")[0]
    _click(browser, '.rf-op[data-type="Step"]')  # reserve: every attempt with its error and stack trace
    details = _texts(browser, "#rf-details")[0]
    assert "busy (attempt 1)" in details and "busy (attempt 2)" in details and "busy (attempt 3)" not in details
    assert details.count("Traceback (most recent call last)") == 2 and details.count("then retry in") == 2
