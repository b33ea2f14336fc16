"""The AWS durable execution conformance suite: one case per requirement, validated by the package itself.

Each case runs the package's unchanged ``validate_description`` against a fresh local durable service
(see :mod:`tests.conformance.harness`). The optional requirement (1-7) may fail without failing the run;
a requirement listed in ``KNOWN_DEFECTS`` (an SDK bug written up in FINDINGS.md) or ``NOT_IMPLEMENTED``
is a strict xfail, so fixing it makes the case fail until the entry is removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.cases import KNOWN_DEFECTS, SUITE_ORDER, discover, ordered_ids
from tests.conformance.harness import run_requirement
from tests.conformance.registry import NOT_IMPLEMENTED, REQUIREMENTS, TARGETS

CASES = discover()
IDS = ordered_ids(CASES)


def test_the_package_has_155_requirements_in_ten_suites() -> None:
    assert len(CASES) == 155
    assert {case.suite.name for case in CASES.values()} == set(SUITE_ORDER)


def test_every_requirement_has_exactly_one_function() -> None:
    assert set(REQUIREMENTS) == set(CASES) - set(NOT_IMPLEMENTED)
    names = [req.function_name for req in REQUIREMENTS.values()]
    assert len(set(names)) == len(names), "two requirements share a function name"
    assert not set(NOT_IMPLEMENTED) - set(CASES), "NOT_IMPLEMENTED names unknown requirements"
    assert not set(KNOWN_DEFECTS) - set(CASES), "KNOWN_DEFECTS names unknown requirements"


def test_the_real_crash_requirements_run_in_a_separate_process() -> None:
    assert {rid for rid, req in REQUIREMENTS.items() if req.process} == {"1-17", "1-18", "3-12"}


def test_the_invoke_suite_has_durable_and_plain_targets() -> None:
    assert {t.durable for t in TARGETS.values()} == {True, False}


@pytest.mark.parametrize("rid", IDS)
def test_requirement(rid: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    reason = NOT_IMPLEMENTED.get(rid) or KNOWN_DEFECTS.get(rid)
    if reason is not None:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    result = run_requirement(rid, CASES[rid].path, tmp_path)
    if not result.passed and result.optional:
        pytest.xfail(f"optional requirement {rid} failed: " + "; ".join(result.errors))
    assert result.passed, f"{rid} ({CASES[rid].suite.name}) failed:\n" + "\n".join(result.errors)
