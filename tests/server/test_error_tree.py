"""The error tree's rules: every ``ApiError`` is a 4xx or 5xx, redirects are not errors, and
the docstring tree at the top of the module names every class."""

from __future__ import annotations

import re

import pytest
from starlette.exceptions import HTTPException

import opsgenie_envelope
from opsgenie_envelope import _errors
from opsgenie_envelope._framework import Answer, error_from_exception, error_from_response


def _tree() -> list[type[_errors.ApiError]]:
    """Every class of the taxonomy, the base included."""
    found: list[type[_errors.ApiError]] = []
    pending = [_errors.ApiError]
    while pending:
        cls = pending.pop()
        if cls.__module__ in ("opsgenie_envelope", "opsgenie_envelope._errors"):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_class_in_the_tree_is_an_error_status() -> None:
    """Each taxonomy class has a 4xx or 5xx status."""
    classes = _tree()
    assert len(classes) >= 21
    for cls in classes:
        assert 400 <= cls.status_code <= 599, cls


@pytest.mark.parametrize("status", [200, 302, 307, 399, 600])
def test_an_instance_status_outside_400_599_is_refused(status: int) -> None:
    """``status_code=`` of a redirect (or anything but 4xx/5xx) raises ``ValueError``."""
    with pytest.raises(ValueError, match="status_code"):
        _errors.ClientError(status_code=status)


def test_a_subclass_with_a_redirect_status_is_refused() -> None:
    """Defining an ``ApiError`` subclass with a 3xx status fails where it is defined."""
    with pytest.raises(ValueError, match=r"Moved\.status_code must be 400\.\.599"):

        class Moved(_errors.ApiError):
            status_code = 301


def test_a_subclass_with_a_status_that_is_no_int_is_refused() -> None:
    """A status that is not an int is a ``TypeError`` naming the class."""
    with pytest.raises(TypeError, match=r"Odd\.status_code must be an int"):

        class Odd(_errors.ApiError):
            status_code = "404"  # type: ignore[assignment]


def test_a_raised_redirect_is_an_answer_not_an_error() -> None:
    """``HTTPException(307)`` maps to an ``Answer`` with its status, never an ``ApiError``."""
    answer, unexpected = error_from_exception(
        HTTPException(307, headers={"Location": "/v2/alerts"})
    )
    assert isinstance(answer, Answer)
    assert not unexpected
    assert (answer.status_code, answer.message) == (307, "Temporary Redirect")
    assert answer.headers == {"Location": "/v2/alerts"}


def test_an_unlisted_error_status_keeps_its_status() -> None:
    """A 502 answer becomes a ``ServerError`` built with status 502 (not set afterwards)."""
    error = error_from_response(502, b"", b"")
    assert type(error) is _errors.ServerError
    assert error.status_code == 502


def test_the_docstring_tree_names_every_public_error() -> None:
    """The tree at the top of ``_errors`` lists each exported error with its status."""
    doc = _errors.__doc__ or ""
    named = dict(re.findall(r"(\w+) \.+ (\d{3}|base|4xx|5xx)", doc))
    exported = {
        name
        for name, value in vars(opsgenie_envelope).items()
        if isinstance(value, type) and issubclass(value, _errors.ApiError)
    }
    assert set(named) == exported
    for name, status in named.items():
        if status.isdigit():
            assert getattr(opsgenie_envelope, name).status_code == int(status), name
