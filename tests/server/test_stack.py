"""The walks over the app around the middleware: the plain ``.app`` chain."""

from __future__ import annotations

from opsgenie_envelope._stack import wrapped_apps


def test_wrapped_apps_follows_app_attributes() -> None:
    """The walk lists the middleware chain below an app, and stops on a cycle."""

    class Layer:
        def __init__(self, app: object) -> None:
            self.app = app

    inner = Layer(None)
    outer = Layer(inner)
    assert list(wrapped_apps(outer)) == [outer, inner]
    inner.app = outer
    assert list(wrapped_apps(outer)) == [outer, inner]
