"""Fixtures for the console tests: a served local service, and headless Chromium.

Browser tests skip on a developer machine without Chromium, but never in CI: with ``CI=true`` a missing
browser, driver or selenium fails them.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from replayflow.console._browser import find_chromium, start_chromium
from replayflow.local import LocalDurableService, LocalHttpServer, VirtualClock

from . import workflows


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        import selenium  # noqa: F401
    except ImportError:
        _unavailable("selenium is not installed (pip install -e '.[test]')")
    if find_chromium() is None:
        _unavailable("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    driver = start_chromium(str(tmp_path_factory.mktemp("chromium-profile")), 1400, 1000)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def service() -> Iterator[LocalDurableService]:
    """Background drivers on a virtual clock that never jumps by itself (callbacks stay pending)."""
    svc = LocalDurableService(clock=VirtualClock(autojump=False))
    svc.register("approval", workflows.approval)
    svc.register("wide", workflows.wide)
    svc.register("hostile", workflows.hostile)
    yield svc
    svc.close()


@pytest.fixture
def server(service: LocalDurableService) -> Iterator[LocalHttpServer]:
    with LocalHttpServer(service, workers=1) as srv:
        yield srv


def execution_url(server: LocalHttpServer, arn: str) -> str:
    return f"{server.url}/#/execution/{urllib.parse.quote(arn, safe='')}"
