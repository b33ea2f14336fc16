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
