"""Option checks, written once: ``TypeError`` for a wrong type, ``ValueError`` for a wrong value.

Every message starts with the option's name (``"limit must be an int, got str"``). Each
checker returns the value it accepted (narrowed for mypy), so a constructor reads::

    self.attempts = check_int("attempts", attempts, minimum=1)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from ._wire import FIELD_NAME_PATTERN, FIELD_NAME_RULE

__all__ = [
    "check_bool",
    "check_callable",
    "check_choice",
    "check_field_name",
    "check_int",
    "check_optional_int",
    "check_seconds",
    "check_str",
    "check_type",
]

T = TypeVar("T")
_FIELD_NAME = re.compile(FIELD_NAME_PATTERN)


def _got(value: object) -> str:
    return type(value).__name__


def check_type(name: str, value: object, kind: type[T] | tuple[type[T], ...], what: str) -> T:
    """``value`` when it is an instance of ``kind``, else ``TypeError("{name} must be {what}")``."""
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise TypeError(f"{name} must be {what}, got {_got(value)}")
    return value


def _kinds(kind: type[Any] | tuple[type[Any], ...]) -> tuple[type[Any], ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def check_bool(name: str, value: object) -> bool:
    """``value`` when it is a bool (not merely truthy)."""
    return check_type(name, value, bool, "a bool")


def check_callable(name: str, value: object, what: str = "a callable") -> Callable[..., Any]:
    """``value`` when it can be called; ``what`` says what it should be."""
    if not callable(value):
        raise TypeError(f"{name} must be {what}, got {_got(value)}")
    return value


def check_int(
    name: str, value: object, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` when it is an int (never a bool) within ``minimum``..``maximum``."""
    number = check_type(name, value, int, "an int")
    if minimum is not None and number < minimum:
        if maximum is None:
            raise ValueError(f"{name} must be at least {minimum}, got {number}")
        raise ValueError(f"{name} must be between {minimum} and {maximum}, got {number}")
    if maximum is not None and number > maximum:
        if minimum is None:
            raise ValueError(f"{name} must be at most {maximum}, got {number}")
        raise ValueError(f"{name} must be between {minimum} and {maximum}, got {number}")
    return number


def check_seconds(name: str, value: object, *, zero: bool = False) -> float:
    """``value`` as a float when it is a positive, finite number of seconds (or 0, if ``zero``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {_got(value)}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        kind = "non-negative" if zero else "positive"
        raise ValueError(f"{name} must be a {kind}, finite number of seconds, got {value!r}")
    return float(value)


def check_choice(name: str, value: T, choices: Collection[T]) -> T:
    """``value`` when it is one of ``choices``: of another type than they are, a ``TypeError``."""
    if value not in choices:
        if not any(type(value) is type(choice) for choice in choices):
            raise TypeError(f"{name} must be one of {tuple(choices)}, got {_got(value)}")
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_optional_int(name: str, value: object, *, minimum: int | None = None) -> int | None:
    """``value`` when it is ``None`` or an int (never a bool) of at least ``minimum``."""
    if value is None:
        return None
    number = check_type(name, value, int, "an int or None")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be at least {minimum} or None, got {number}")
    return number


def check_field_name(name: str, value: object, what: str = "a field name") -> str:
    """``value`` when it is a field name (:data:`~._wire.FIELD_NAME_PATTERN`); ``what`` says
    what the option holds (``"field names"``, ``"keyed by field names"``)."""
    text = check_type(name, value, str, what)
    if not _FIELD_NAME.fullmatch(text):
        raise ValueError(f"{name} must be {what} of {FIELD_NAME_RULE}, got {text!r}")
    return text


def check_str(name: str, value: object, what: str = "a non-empty str") -> str:
    """``value`` when it is a non-empty str."""
    text = check_type(name, value, str, what)
    if not text:
        raise ValueError(f"{name} must be {what}, got ''")
    return text
