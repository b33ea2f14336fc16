"""The README's ecosystem examples run as written; ``import replayflow`` imports none of the optional extras."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = ("pydantic", "opentelemetry", "aws_lambda_powertools", "cfnlint", "samtranslator", "aws_xray_sdk")


def test_the_ecosystem_section_examples_run():
    text = (ROOT / "README.md").read_text()
    start = text.index("## Async bodies, pydantic, replay-safe values and tracing")
    section = text[start : text.index("\n## ", start + 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    module = types.ModuleType("readme_ecosystem")
    sys.modules[module.__name__] = module  # pydantic and type hints look their module up
    try:
        for index, block in enumerate(blocks):
            exec(compile(block, f"README ecosystem example {index + 1}", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    result = module.__dict__["result"]
    assert result.result["carrier"] == "dhl"
    assert type(module.__dict__["exporter"]).__name__ == "InMemorySpanExporter"


SCRIPT = """
import dataclasses, sys
import replayflow
from replayflow.testing import run

@dataclasses.dataclass
class Point:
    x: int

def point() -> Point:
    return Point(1)

async def later() -> int:
    return 2

@replayflow.durable
def wf(_, ctx):
    p = yield ctx.step(point)
    n = yield ctx.step(later)
    return [p.x, n, str(ctx.uuid4())[:0]]

assert run(wf, None).result == [1, 2, ""]
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in {names})))
"""


def test_import_replayflow_and_a_typed_async_run_import_no_optional_extra():
    script = SCRIPT.replace("{names}", repr(set(OPTIONAL)))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == ""


#: What ``import replayflow`` and a replayed invocation must not load: attrs (the options and records are
#: plain slotted classes), the AWS SDK (only the AWS transport imports it, when a handler first needs it),
#: asyncio (only ``async def`` bodies need it), the local service and cattrs (first needed by a typed value).
NOT_ON_THE_HANDLER_PATH = ("attr", "attrs", "boto3", "botocore", "asyncio", "replayflow.local", "cattrs")

HANDLER_PATH = """
import sys
import replayflow
print(",".join(sorted(m for m in {names} if m in sys.modules)))
from replayflow._ids import operation_id

@replayflow.durable
def wf(event, ctx):
    a = yield ctx.step(lambda: 1, name="a")
    yield ctx.wait(1)
    return [a, event]

step = {{"Id": operation_id(None, 1), "Type": "STEP", "SubType": "Step", "Name": "a", "Status": "SUCCEEDED",
        "StartTimestamp": 1, "StepDetails": {{"Result": "1", "Attempt": 1}}}}
wait = {{"Id": operation_id(None, 2), "Type": "WAIT", "SubType": "Wait", "Status": "SUCCEEDED", "StartTimestamp": 2}}
execution = {{"Id": "exec", "Type": "EXECUTION", "Status": "STARTED", "StartTimestamp": 0,
             "ExecutionDetails": {{"InputPayload": "2"}}}}
event = {{"DurableExecutionArn": "arn:aws:lambda:us-east-1:1:function:f:$LATEST/durable-execution/r/e",
         "CheckpointToken": "t", "InitialExecutionState": {{"Operations": [execution, step, wait]}}}}
never = replayflow.MockTransport(lambda operation, request: {{}})
with replayflow.use_transport(never):
    out = wf(event, None)
assert out == {{"Status": "SUCCEEDED", "Result": "[1,2]"}}, out
assert never.requests == [], never.requests
print(",".join(sorted(m for m in {names} if m in sys.modules)))
"""


def test_import_replayflow_and_a_replayed_invocation_load_no_attrs_boto3_asyncio_or_local_service():
    script = HANDLER_PATH.format(names=repr(NOT_ON_THE_HANDLER_PATH))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.splitlines() == ["", ""]  # after the import, then after the invocation
