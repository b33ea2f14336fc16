"""Render the console's screenshots for the README: ``python -m replayflow.console.screenshots [OUT_DIR]``.

Runs the demo workflows (:mod:`replayflow.console._demo`) on a local service with a virtual clock, serves
the console on 127.0.0.1 and photographs it in headless Chromium (Debian packages ``chromium`` and
``chromium-driver``; selenium from the ``test`` extra): ``executions.png`` (the list), ``execution.png``
(a finished run's timeline with the retried step selected) and ``callback.png`` (a run waiting for its
callback, with the answer form).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from replayflow.local import LocalDurableService

__all__ = ["main", "populate"]

_ORDERS = [
    {"id": f"o-{1000 + n}", "items": [{"sku": f"SKU-{k}", "quantity": k + 1, "unit": 3 + n} for k in range(1 + n % 4)]}
    for n in range(6)
]


def _callback_id(service: LocalDurableService, arn: str) -> str:
    events = service.history(arn, max_items=1000)["Events"]
    return str(next(e["CallbackStartedDetails"]["CallbackId"] for e in events if e["EventType"] == "CallbackStarted"))


def populate(service: LocalDurableService) -> dict[str, str]:
    """Start the demo executions: finished, failed, stopped and waiting ones; their ARNs by role."""
    from ._demo import register_demo

    register_demo(service)
    arns = [service.start_execution("fulfil", json.dumps(order), name=f"order-{order['id']}") for order in _ORDERS]
    service.advance(60)
    roles = {"finished": arns[0], "waiting": arns[-1]}
    for arn in arns[:3]:
        service.send_durable_execution_callback_success(_callback_id(service, arn), '{"approved_by": "ops"}')
    service.send_durable_execution_callback_failure(
        _callback_id(service, arns[3]), {"ErrorType": "Rejected", "ErrorMessage": "the manager said no"}
    )
    service.stop_durable_execution(arns[4])
    service.advance(30)
    return roles


def _shoot(driver: Any, url: str, path: Path, ready: str, click: str | None = None) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, ready))
    if click:
        driver.find_element(By.CSS_SELECTOR, click).click()
    time.sleep(0.3)
    driver.save_screenshot(str(path))


def main(argv: Sequence[str] | None = None) -> int:
    """Write the PNGs into ``argv[0]`` (default ``docs``)."""
    from replayflow.local import LocalDurableService, LocalHttpServer, VirtualClock

    from ._browser import start_chromium

    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "docs")
    out.mkdir(parents=True, exist_ok=True)
    with (
        LocalDurableService(clock=VirtualClock(autojump=False)) as service,
        tempfile.TemporaryDirectory(prefix="replayflow-chromium-") as profile,
    ):
        roles = populate(service)
        with LocalHttpServer(service, workers=1) as server:
            driver = start_chromium(profile, 1400, 1000)
            try:

                def page(arn: str) -> str:
                    return f"{server.url}/#/execution/{urllib.parse.quote(arn, safe='')}"

                _shoot(driver, server.url + "/", out / "executions.png", "tr.rf-exec-row")
                _shoot(driver, page(roles["finished"]), out / "execution.png", ".rf-op", '.rf-op[data-type="Step"]')
                _shoot(driver, page(roles["waiting"]), out / "callback.png", ".rf-cb-succeed")
            finally:
                driver.quit()
    for name in ("executions.png", "execution.png", "callback.png"):
        print(out / name)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
