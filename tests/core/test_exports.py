"""The public surface: every exported name exists, is documented, and presents itself as replayflow.X."""

from __future__ import annotations

import inspect

import replayflow


def test_every_exported_name_is_importable_and_documented():
    for name in replayflow.__all__:
        obj = getattr(replayflow, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"replayflow.{name} has no docstring"


def test_public_classes_present_themselves_as_replayflow():
    for name in replayflow.__all__:
        obj = getattr(replayflow, name)
        if inspect.isclass(obj):
            assert obj.__module__ == "replayflow", name


def test_the_context_methods_are_documented():
    for name, member in inspect.getmembers(replayflow.DurableContext, inspect.isfunction):
        if not name.startswith("_"):
            assert inspect.getdoc(member), f"DurableContext.{name} has no docstring"


def test_package_is_typed():
    from importlib.resources import files

    assert files("replayflow").joinpath("py.typed").is_file()
