from __future__ import annotations

from collections.abc import Iterator

import pytest

from replayflow.local import InvocationRetry, LocalDurableService


@pytest.fixture
def service() -> Iterator[LocalDurableService]:
    svc = LocalDurableService(invocation_retry=InvocationRetry(max_attempts=3, initial_delay=1.0))
    yield svc
    svc.close()
