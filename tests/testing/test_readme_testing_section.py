"""The README's Testing section runs: every python example, in order, exactly as written."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def _section() -> str:
    """The Testing section of README.md once merged there, else the section as the toolkit ships it."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Testing\n.*?(?=^## |\Z)", readme, re.M | re.S)
    if match and "replayflow.testing" in match.group(0):
        return match.group(0)
    return (ROOT / "replayflow" / "testing" / "README_SECTION.md").read_text()


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)


def _split_blocks() -> tuple[list[str], list[str]]:
    """(examples to run in one module, pytest examples to run with the plugin)."""
    blocks = _python_blocks(_section())
    return [b for b in blocks if "def test_" not in b], [b for b in blocks if "def test_" in b]


def test_the_section_has_an_example_of_each_feature():
    text = _section()
    for feature in ("History(", "replay(", "run(", "start(", "capture_logs(", "load_history(", "replayflow replay"):
        assert feature in text, feature
    examples, pytest_examples = _split_blocks()
    assert len(examples) >= 6 and len(pytest_examples) == 1


def test_the_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType("readme_examples")
    monkeypatch.setitem(sys.modules, "readme_examples", module)
    examples, _ = _split_blocks()
    for index, block in enumerate(examples):
        code = compile(block, f"README Testing example {index + 1}", "exec")
        exec(code, module.__dict__)
    assert "next operations:\n  1. start child_context 'billing': billing(42)" in capsys.readouterr().out


def test_the_pytest_examples_pass(pytester: pytest.Pytester):
    examples, pytest_examples = _split_blocks()
    pytester.makepyfile(readme_workflow=examples[0])
    pytester.makepyfile(test_readme_examples="from readme_workflow import checkout\n\n\n" + pytest_examples[0])
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
