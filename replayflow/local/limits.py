"""The service's limits, in one configurable place.

Defaults and where they come from:

* ``max_updates`` 250 and ``max_request_bytes`` 750 KB per CheckpointDurableExecution: the service's
  documented checkpoint limits (the official SDK batches to the same numbers).
* ``operation_payload_bytes`` 256 KiB for one operation's ``Payload`` (STEP, CONTEXT, CALLBACK...). The
  botocore model documents 1 MB for these; we default to the stricter 256 KiB that the SDKs are built
  around (the child-context ``ReplayChildren`` threshold), so that what works locally also fits on AWS.
  Pass ``Limits(operation_payload_bytes=1024 * 1024)`` for the model's number.
* ``execution_payload_bytes`` 6 MiB for an EXECUTION ``SUCCEED`` payload (the synchronous response limit).
* ``error_bytes`` 32 KiB for one serialized ErrorObject (as enforced by the reference emulator; the model
  only states 1 MB for all fields combined).
* ``chained_invoke_payload_bytes`` 1 MiB: a chained invoke's input, and a child execution's result.
* ``callback_result_bytes`` 1 MiB: SendDurableExecutionCallbackSuccess ``Result`` (model ``max``).
* ``invoke_payload_bytes`` 6 MiB for a synchronous Invoke and ``async_invoke_payload_bytes`` 1 MiB for an
  ``Event`` one (the Lambda quotas).
* ``page_size`` 1000 operations per page of ``InitialExecutionState`` and the cap (and, when ``MaxItems``
  is not given, the default is ``min(100, page_size)``) for GetDurableExecutionState and history pages.
* ``page_bytes`` 5 MiB of operation payloads (results, inputs, errors) per page of ``InitialExecutionState``
  and of GetDurableExecutionState, so that an invocation input fits Lambda's 6 MB request limit however
  large its operations' results (the reference emulator pages by the same bytes). A page always holds at
  least one operation.

Per-execution quotas (the Lambda quotas page, "durable functions quotas"; hard, they cannot be raised on
AWS, see /work/shared/reference/quotas-envelope-console.md):

* ``max_operations`` 3,000 durable operations per execution, metered as AWS's durable execution SDK page
  describes: every operation the execution creates counts 1 (a step, a wait, a callback, a chained
  invoke, a child context, a map/parallel and each of its branches, wait_for_callback's context, callback
  and submitter step), and every STEP ``RETRY`` counts 1 more (a step's retries, a wait_for_condition's
  polls). So a step is 1 + its retries, wait_for_condition 1 + its polls, wait_for_callback 3 + retries,
  map/parallel 1 + one per branch, a wait or a child context 1. The EXECUTION operation itself is not
  counted.
* ``max_bytes_written`` 100 MB (10**8 bytes) of data written per execution, cumulative: the input, every
  checkpointed ``Payload`` and ``Error`` (retries included), callback results and errors, and the
  execution's result.

A checkpoint that would go over either quota is refused (``InvalidParameterValueException``, the error
the botocore model gives CheckpointDurableExecution) and the execution FAILS with an ErrorObject of type
``ServiceQuotaExceededException`` (the model's error for an exceeded quota) naming the quota; nothing of
that checkpoint is applied. ``Limits(max_operations=30_000)`` lets a bigger workflow run locally (it would
still fail on AWS).
"""

from __future__ import annotations

import attrs

__all__ = ["Limits"]


@attrs.frozen
class Limits:
    """Size and count limits enforced by :class:`LocalDurableService` (see the module docstring)."""

    max_updates: int = 250
    max_request_bytes: int = 750 * 1024
    operation_payload_bytes: int = 256 * 1024
    execution_payload_bytes: int = 6 * 1024 * 1024
    error_bytes: int = 32 * 1024
    chained_invoke_payload_bytes: int = 1024 * 1024
    callback_result_bytes: int = 1024 * 1024
    invoke_payload_bytes: int = 6 * 1024 * 1024
    async_invoke_payload_bytes: int = 1024 * 1024
    page_size: int = 1000
    page_bytes: int = 5 * 1024 * 1024
    max_operations: int = 3000
    max_bytes_written: int = 100 * 1000 * 1000
