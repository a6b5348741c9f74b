"""The public surface: ``__all__`` matches what the package exports."""

from __future__ import annotations

import inspect
import warnings
from types import ModuleType

import pytest

import opsgenie_envelope
from opsgenie_envelope import client, ratelimit, request_status

DEPRECATED_MODULES = {"opsgenie_envelope.requests"}
"""Old import paths that warn on import; tested on their own below."""


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


def test_errors_read_as_public_names() -> None:
    """Tracebacks name ``opsgenie_envelope.NotFound``, not the private module defining it."""
    import traceback

    errors = [
        value
        for value in vars(opsgenie_envelope).values()
        if isinstance(value, type) and issubclass(value, opsgenie_envelope.ApiError)
    ]
    assert len(errors) == 22
    assert all(cls.__module__ == "opsgenie_envelope" for cls in errors)
    try:
        raise opsgenie_envelope.NotFound("Alert does not exist")
    except opsgenie_envelope.NotFound as exc:
        shown = traceback.format_exception_only(exc)
    assert shown == ["opsgenie_envelope.NotFound: Alert does not exist\n"]


def test_client_errors_read_as_public_names() -> None:
    """Every error the client exports reads as ``opsgenie_envelope.client.<Name>``."""
    errors = [
        value
        for value in vars(client).values()
        if isinstance(value, type) and issubclass(value, BaseException)
    ]
    assert len(errors) == 26  # the root, its own three failures, the twins of the 22
    for cls in errors:
        assert f"{cls.__module__}.{cls.__qualname__}" == f"opsgenie_envelope.client.{cls.__name__}"


def test_private_modules_export_what_they_define() -> None:
    """Each private module's ``__all__`` names only what it really has."""
    import importlib
    import pkgutil

    with warnings.catch_warnings():
        # walk_packages imports each package to walk into it, the deprecated ones included.
        warnings.simplefilter("ignore", DeprecationWarning)
        infos = list(pkgutil.walk_packages(opsgenie_envelope.__path__, "opsgenie_envelope."))
    for info in infos:
        if info.name in DEPRECATED_MODULES:
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            assert hasattr(module, name), f"{info.name}.__all__ names {name}"


@pytest.mark.parametrize("module", [client, ratelimit, request_status], ids=lambda m: m.__name__)
def test_subpackages_export_what_they_define(module: ModuleType) -> None:
    """``client``, ``ratelimit``, ``request_status``: ``__all__`` is complete (ruff keeps it sorted), documented."""
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


def test_old_request_status_path_warns_and_still_works() -> None:
    """``opsgenie_envelope.requests`` warns and re-exports the new names for one release."""
    import importlib
    import sys

    sys.modules.pop("opsgenie_envelope.requests", None)
    with pytest.warns(DeprecationWarning, match="opsgenie_envelope.request_status"):
        old = importlib.import_module("opsgenie_envelope.requests")
    assert old.AsyncRequests is request_status.RequestTracker
    for name in request_status.__all__:
        assert getattr(old, name) is getattr(request_status, name)
