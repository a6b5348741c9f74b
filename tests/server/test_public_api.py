"""The public surface: ``__all__`` matches what the package exports."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

import opsgenie_envelope
from opsgenie_envelope import ratelimit, requests


def test_all_is_sorted_and_complete() -> None:
    """``__all__`` lists every public name once (its order is kept by the linter)."""
    public = {
        name
        for name, value in vars(opsgenie_envelope).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    public -= {"annotations"}
    exported = set(opsgenie_envelope.__all__) - {"__version__"}
    assert exported == public
    assert len(opsgenie_envelope.__all__) == len(set(opsgenie_envelope.__all__))


def test_every_public_name_has_a_docstring() -> None:
    """Every exported class and function has a docstring."""
    for name in opsgenie_envelope.__all__:
        obj = getattr(opsgenie_envelope, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), name


def test_package_is_typed() -> None:
    """The package ships ``py.typed``."""
    from importlib.resources import files

    assert files("opsgenie_envelope").joinpath("py.typed").is_file()


@pytest.mark.parametrize("module", [ratelimit, requests], ids=lambda m: m.__name__)
def test_subpackages_export_what_they_define(module: ModuleType) -> None:
    """``ratelimit`` and ``requests``: ``__all__`` is complete (ruff keeps it sorted), documented."""
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert set(module.__all__) == public
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name
