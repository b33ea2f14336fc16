"""What an execution used of its quotas, and what it would cost on AWS.

The service meters every execution as AWS does (see :mod:`.limits` for what counts): durable operations,
bytes written, and invocations (replays are invocations too). :class:`Usage` is that, with the quotas it
is measured against and an estimated cost from :class:`Prices`.

Prices are the published Lambda durable functions prices as quoted by secondary sources from the Lambda
pricing page (us-east-1, 2026-12; see /work/shared/reference/quotas-envelope-console.md). They change and
differ by Region: they are a setting (``LocalDurableService(prices=Prices(...))``), and the estimate
leaves out Lambda duration (GB-seconds), which depends on memory and on what the code does.
"""

from __future__ import annotations

from typing import Any

import attrs

from .limits import Limits
from .records import Execution

__all__ = ["WARN_FRACTION", "Prices", "Usage", "execution_usage"]

#: A run that uses more than this fraction of a quota gets a warning.
WARN_FRACTION = 0.8

_MS_PER_MONTH = 30 * 86_400_000


@attrs.frozen
class Prices:
    """Prices in USD used for :attr:`Usage.cost` (defaults: the published us-east-1 prices)."""

    #: Per million durable operations.
    per_million_operations: float = 8.00
    #: Per GB (10**9 bytes) of data written.
    per_gb_written: float = 0.25
    #: Per GB-month of data retained, during the execution and its retention period.
    per_gb_month_retained: float = 0.15
    #: Per million Lambda requests (every invocation, replays included).
    per_million_requests: float = 0.20
    #: Days the history is retained after the execution ends (what the service reports).
    retention_days: int = 30


@attrs.frozen
class Usage:
    """One execution's metered usage, its quotas and its estimated cost (USD)."""

    operations: int
    bytes_written: int
    invocations: int
    max_operations: int
    max_bytes_written: int
    #: Estimated cost in USD: operations + data written + retention + requests (no duration).
    cost: float

    @property
    def operations_fraction(self) -> float:
        return self.operations / self.max_operations if self.max_operations else 0.0

    @property
    def bytes_fraction(self) -> float:
        return self.bytes_written / self.max_bytes_written if self.max_bytes_written else 0.0

    def warnings(self) -> list[str]:
        """One line per quota used above :data:`WARN_FRACTION` (80%)."""
        out = []
        if self.operations_fraction > WARN_FRACTION:
            out.append(
                f"this execution used {self.operations_fraction:.0%} of the {self.max_operations:,} durable "
                "operations AWS allows per execution"
            )
        if self.bytes_fraction > WARN_FRACTION:
            out.append(
                f"this execution wrote {self.bytes_fraction:.0%} of the {_size(self.max_bytes_written)} AWS "
                "allows per execution"
            )
        return out

    def describe(self) -> str:
        """``"12 operations (0.4% of 3,000), 1.2 KB written, 3 invocations, est. $0.000105"``."""
        return (
            f"{self.operations:,} operations ({self.operations_fraction:.1%} of {self.max_operations:,}), "
            f"{_size(self.bytes_written)} written ({self.bytes_fraction:.1%} of {_size(self.max_bytes_written)}), "
            f"{self.invocations:,} invocations, est. ${self.cost:.6f}"
        )

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready data (camelCase, as in ``replayflow history --json``)."""
        return {
            "operations": self.operations,
            "bytesWritten": self.bytes_written,
            "invocations": self.invocations,
            "maxOperations": self.max_operations,
            "maxBytesWritten": self.max_bytes_written,
            "estimatedCostUsd": round(self.cost, 9),
        }


def execution_usage(ex: Execution, limits: Limits, prices: Prices, now_ms: int) -> Usage:
    """``ex``'s usage now (a running execution's retention counts up to ``now_ms``)."""
    end = ex.end_ms if ex.end_ms is not None else now_ms
    retained_ms = max(end - ex.start_ms, 0) + prices.retention_days * 86_400_000
    gb = ex.bytes_written / 1e9
    cost = (
        ex.operations * prices.per_million_operations / 1e6
        + gb * prices.per_gb_written
        + gb * retained_ms / _MS_PER_MONTH * prices.per_gb_month_retained
        + ex.invocations * prices.per_million_requests / 1e6
    )
    return Usage(ex.operations, ex.bytes_written, ex.invocations, limits.max_operations, limits.max_bytes_written, cost)


def _size(count: int) -> str:
    if count < 1000:
        return f"{count} B"
    for unit, scale in (("KB", 1e3), ("MB", 1e6)):
        if count < scale * 1000:
            return f"{count / scale:.1f} {unit}"
    return f"{count / 1e9:.2f} GB"
