"""The HTTP benchmark's harness runs against both services at a tiny size (its checks, never timings)."""

from __future__ import annotations

import os

import pytest

from benchmarks import http

pytestmark = pytest.mark.slow


def test_the_http_benchmark_measures_both_services(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in http.CREDENTIALS.items():
        monkeypatch.setenv(key, os.environ.get(key, value))
    result = http.measure(calls=3, rounds=2, steps=0, workflow_rounds=0)  # the workflow row: test_serve_official
    for system in (http.REPLAYFLOW, http.EMULATOR):
        samples = result["samples"][system]
        assert {api: len(samples[api]) for api in (*http.APIS, http.RAW)} == dict.fromkeys((*http.APIS, http.RAW), 6)
        assert "workflow" not in samples
    table = http.report(result)
    rows = [line.split(" | ")[0] for line in table.splitlines() if line.startswith("| ")]
    assert rows == ["| API", *(f"| {api}" for api in (*http.APIS, "all", http.RAW))]
