"""The README's "Writing workflows" examples run, exactly as written."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_writing_workflows_examples_run():
    text = README.read_text()
    section = text[text.index("## Writing workflows") : text.index("## Deploying to AWS Lambda")]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    module = types.ModuleType("readme_example")
    sys.modules[module.__name__] = module  # dataclasses and type hints look their module up
    try:
        for index, block in enumerate(blocks):
            exec(compile(block, f"README example {index + 1}", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    result = module.__dict__["result"]
    assert result.status == "SUCCEEDED"
    assert result.result["payment"].startswith("payment-1111-")


def test_the_readme_commands_are_the_ones_ci_and_users_run():
    text = README.read_text()
    run = text.split("<!-- run-command -->", 1)[1].split("```sh\n", 1)[1].split("\n", 1)[0]
    assert run.endswith("replayflow run samples.order_processing:process_order --input @samples/order.json")
    assert (README.parent / "samples" / "order.json").is_file()
    ci = (README.parent / ".ci" / "run").read_text()
    assert "test-command" in ci
