"""The SAM template of the sample order workflow: cfn-lint clean, and it names the code it deploys."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import replayflow

pytest.importorskip("cfnlint", reason="cfn-lint is in the test extra; CI always has it")

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "samples" / "template.yaml"


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("cfn-lint")
    command = [str(exe)] if exe.exists() else [shutil.which("cfn-lint") or "cfn-lint"]
    return subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=300, check=False)


def function() -> dict:
    from cfnlint.decode import decode

    template, problems = decode(str(TEMPLATE))
    assert problems == []
    return template["Resources"]["OrderProcessingFunction"]


def test_cfn_lint_passes_and_catches_a_broken_durable_config(tmp_path):
    clean = cfn_lint(TEMPLATE)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.read_text().replace("ExecutionTimeout: !Ref", "ExecutionTimeOut: !Ref"))
    result = cfn_lint(broken)
    assert result.returncode != 0 and "ExecutionTimeOut" in result.stdout  # the linter knows DurableConfig


def test_the_function_is_durable_with_the_two_permissions_and_a_real_handler():
    resource = function()
    assert resource["Type"] == "AWS::Serverless::Function"
    props = resource["Properties"]
    module, _, attr = props["Handler"].rpartition(".")
    handler = getattr(importlib.import_module(module), attr)
    assert isinstance(handler, replayflow.DurableHandler)
    runtime = props["Runtime"]
    assert runtime.startswith("python3.") and int(runtime.split(".")[1]) >= 11
    assert set(props["DurableConfig"]) == {"ExecutionTimeout", "RetentionPeriodInDays"}
    statements = [s for policy in props["Policies"] for s in policy["Statement"]]
    actions = {a for s in statements for a in s["Action"]}
    assert actions == {"lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"}


def test_the_readme_deploy_section_builds_the_directory_the_template_deploys():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Deploy the sample with AWS SAM") :]
    section = section[: section.index("\n## ")]
    code_uri = function()["Properties"]["CodeUri"]
    built = (TEMPLATE.parent / code_uri).resolve().relative_to(ROOT)
    assert f"--target {built}" in section
    assert "samples/template.yaml" in section
