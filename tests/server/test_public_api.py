"""The public surface: ``__all__`` matches what the package exports."""

from __future__ import annotations

import inspect

import opsgenie_envelope


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
