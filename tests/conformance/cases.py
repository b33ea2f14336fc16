"""The requirements of the installed conformance package, and how this SDK stands on each of them."""

from __future__ import annotations

from aws_durable_execution_conformance_tests import config
from aws_durable_execution_conformance_tests.extensions import RequirementCase, load_extensions

from tests.conformance.registry import NOT_IMPLEMENTED

__all__ = ["KNOWN_DEFECTS", "SUITE_ORDER", "discover", "natural_key", "ordered_ids"]

#: The suites in the package's numbering order (1-x step ... 10-x plugin).
SUITE_ORDER = (
    "step",
    "wait",
    "child",
    "callback",
    "invoke",
    "wait_for_condition",
    "wait_for_callback",
    "parallel",
    "map",
    "plugin",
)

#: requirement id -> the FINDINGS.md entry explaining why the SDK fails it today. Unlike NOT_IMPLEMENTED
#: these are bugs to fix: the pytest case is a strict xfail, so it fails as soon as the fix lands and
#: the entry must be removed.
KNOWN_DEFECTS: dict[str, str] = {}


def natural_key(rid: str) -> tuple[int, ...]:
    """``"8-13"`` -> ``(8, 13)``, for requirement ids in suite order."""
    return tuple(int(part) for part in rid.split("-"))


def discover(suites: str | list[str] | None = None) -> dict[str, RequirementCase]:
    """The package's requirements (``"all"`` by default), by id, discovered the way its CLI does."""
    cases: dict[str, RequirementCase] = load_extensions(config.TESTS_DIR).discover_requirements(suites or "all")
    return cases


def ordered_ids(cases: dict[str, RequirementCase]) -> list[str]:
    return sorted(cases, key=natural_key)


def _check_declarations() -> None:
    overlap = set(NOT_IMPLEMENTED) & set(KNOWN_DEFECTS)
    if overlap:
        raise ValueError(f"requirements both not implemented and known defects: {sorted(overlap)}")


_check_declarations()
