"""Run the conformance suite outside pytest: the per-suite table, and reports in the package's formats.

``python -m tests.conformance`` validates every requirement (or ``--suite`` ones) against the local
durable service with the package's own validator, prints a table of passed / failed / optional failed /
not implemented per suite, the errors of what failed, and writes JUnit (``--junit``) or JSON (``--json``)
with the package's own report writers. The exit code is the package's: 1 when any requirement FAILED.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from aws_durable_execution_conformance_tests.extensions import RequirementCase, requirement_description
from aws_durable_execution_conformance_tests.report import Report, ReportEntry, ReportStatus, RunMetadata
from aws_durable_execution_conformance_tests.reporters import render_console, write_report

from tests.conformance.cases import KNOWN_DEFECTS, SUITE_ORDER, discover, ordered_ids
from tests.conformance.harness import STACK_NAME, run_requirement
from tests.conformance.registry import NOT_IMPLEMENTED

__all__ = ["build_report", "main", "suite_table"]

LANGUAGE = "python-replayflow"

_COLUMNS = (
    ("passed", ReportStatus.PASSED),
    ("failed", ReportStatus.FAILED),
    ("optional failed", ReportStatus.OPTIONAL_FAILED),
    ("not implemented", ReportStatus.NOT_IMPLEMENTED),
)


def _entry(case: RequirementCase, history_dir: Path) -> ReportEntry:
    rid = case.description_id
    description = requirement_description(case)
    if rid in NOT_IMPLEMENTED:
        return ReportEntry(
            rid, case.suite.name, ReportStatus.NOT_IMPLEMENTED, description=description, reason=NOT_IMPLEMENTED[rid]
        )
    started = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):  # the validator narrates every step
        result = run_requirement(rid, case.path, history_dir / rid)
    if result.passed:
        status = ReportStatus.PASSED
    elif result.optional:
        status = ReportStatus.OPTIONAL_FAILED
    else:
        status = ReportStatus.FAILED
    return ReportEntry(
        rid,
        case.suite.name,
        status,
        function=result.function_name,
        description=description,
        reason=KNOWN_DEFECTS.get(rid) if status is ReportStatus.FAILED else None,
        errors=list(result.errors),
        duration_seconds=time.monotonic() - started,
    )


def build_report(suites: Sequence[str], history_dir: Path) -> Report:
    """Validate the requirements of ``suites`` (``["all"]`` for every one) into a :class:`Report`."""
    started_at, started = datetime.now(UTC).isoformat(), time.monotonic()
    cases = discover(list(suites))
    entries = [_entry(cases[rid], history_dir) for rid in ordered_ids(cases)]
    report = Report(
        run=RunMetadata(
            name="replayflow-conformance",
            template=f"local:{STACK_NAME}",
            region="local",
            language=LANGUAGE,
            suites=list(suites),
            started_at=started_at,
            finished_at=datetime.now(UTC).isoformat(),
            duration_seconds=time.monotonic() - started,
        )
    )
    for entry in entries:
        report.add(entry)
    return report


def suite_table(report: Report) -> str:
    """One row per suite (in the package's numbering order) and a total row."""
    suites = [s for s in SUITE_ORDER if any(e.suite == s for e in report.entries)]
    suites += sorted({e.suite or "unknown" for e in report.entries} - set(suites))
    header = ["suite", *(name for name, _ in _COLUMNS), "total"]
    rows = []
    for suite in [*suites, None]:
        entries = [e for e in report.entries if suite is None or e.suite == suite]
        counts = [sum(1 for e in entries if e.status is status) for _, status in _COLUMNS]
        rows.append([suite or "total", *map(str, counts), str(len(entries))])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "-" * len(line(header))
    return "\n".join([line(header), rule, *map(line, rows[:-1]), rule, line(rows[-1])])


def _failures(report: Report) -> str:
    lines = []
    for entry in report.entries:
        if entry.status in (ReportStatus.FAILED, ReportStatus.OPTIONAL_FAILED):
            lines.append(f"{entry.status.value} {entry.id} ({entry.suite}, {entry.function})")
            if entry.reason:
                lines.append(f"    known defect: {entry.reason}")
            lines.extend(f"    {error}" for error in entry.errors)
        elif entry.status is ReportStatus.NOT_IMPLEMENTED:
            lines.append(f"NOT_IMPLEMENTED {entry.id} ({entry.suite}): {entry.reason}")
    return "\n".join(lines)


def _base(path: str, extension: str) -> str:
    return path[: -len(extension)] if path.endswith(extension) else path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.conformance",
        description="Run the AWS durable execution conformance suite against the local durable service.",
    )
    parser.add_argument(
        "--suite", action="append", choices=[*SUITE_ORDER, "all"], help="a suite to run (repeatable; default: all)"
    )
    parser.add_argument("--junit", metavar="PATH", help="write a JUnit XML report (the package's format)")
    parser.add_argument("--json", metavar="PATH", help="write a JSON report (the package's schema 1.0)")
    parser.add_argument("--history-dir", metavar="DIR", help="keep each execution's history JSON here")
    parser.add_argument("--verbose", action="store_true", help="also print the package's console report")
    args = parser.parse_args(argv)

    with contextlib.ExitStack() as stack:
        history_dir = args.history_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="conformance-"))
        report = build_report(args.suite or ["all"], Path(history_dir))
    print(suite_table(report))
    failures = _failures(report)
    if failures:
        print("\n" + failures)
    if args.verbose:
        print("\n" + render_console(report))
    if args.junit:
        print(f"\nwrote {write_report(report, 'junit', _base(args.junit, '.xml'))}")
    if args.json:
        print(f"wrote {write_report(report, 'json', _base(args.json, '.json'))}")
    summary = report.summary()
    print(f"\n{summary['passed']} passed, {summary['failed']} failed in {report.run.duration_seconds:.1f}s")
    code: int = report.exit_code()
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
