"""Query parameters described as plain data, for any framework to declare and document.

:class:`~opsgenie_envelope.Pager` and :class:`~opsgenie_envelope.Expander` read their own
parameters from a Starlette request. A framework that declares parameters itself (FastAPI
reads them from a function's signature and documents them in OpenAPI) gets the same facts
from their ``query_parameters``: a :class:`QueryParameters` naming each parameter with its
type, default, bounds and allowed values, and the function that turns the values into the
result. Nothing here knows a framework: ``opsgenie_envelope.fastapi`` turns it into a
FastAPI dependency (:func:`opsgenie_envelope.fastapi.query`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from ._openapi import Declaration

__all__ = ["QueryParameter", "QueryParameters"]

T = TypeVar("T")

QueryValue = int | str | tuple[str, ...] | None
"""A parameter's default: a number, a string, ``None`` (absent) or, repeated, a tuple."""


@dataclass(frozen=True, slots=True)
class QueryParameter:
    """One query parameter: what a framework declares, checks and documents.

    Attributes:
        name: the parameter's name in the query string.
        kind: ``"integer"`` or ``"string"``: the type of one value.
        default: the value when the parameter is absent; ``None`` means it may be absent
            and is then ``None``. A repeated parameter's default is a tuple (usually empty).
        description: one line for the document.
        minimum: documented lower bound of an integer. The framework does not refuse a
            value below it: the resolver does, with its own answer (a 416 for paging).
        maximum: documented upper bound of an integer, as ``minimum``.
        max_length: documented longest string, as ``minimum`` (the resolver checks it).
        enum: the values accepted; the framework refuses any other (a 422).
        pattern: a regular expression a string value must match; the framework refuses
            any other (a 422).
        known: values documented as the known ones, not checked by the framework (the
            resolver decides what to do with others).
        nullable: the value may be ``None`` (the document admits ``null``), even with a
            default; a parameter whose default is ``None`` always may.
        repeated: the parameter may be given several times; its value is the list of them.
        documented: whether the document lists the parameter at all.
    """

    name: str
    kind: Literal["integer", "string"]
    default: QueryValue = None
    description: str = ""
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    known: tuple[str, ...] | None = None
    nullable: bool = False
    repeated: bool = False
    documented: bool = True


@dataclass(frozen=True, eq=False)
class QueryParameters(Generic[T]):
    """The query parameters of one reader, and how their values become its result.

    Attributes:
        parameters: each parameter, in the order the document lists them.
        resolve: an ``async`` function called with ``request`` (a Starlette ``Request``),
            ``response`` (a Starlette ``Response`` whose headers end up on the answer) when
            ``response`` is true, and each parameter's checked value by keyword; it returns
            the result. It may raise an ``ApiError``.
        returns: the type of the result, e.g. :class:`~opsgenie_envelope.Page`.
        response: whether ``resolve`` takes the ``response``.
        declaration: what every route reading these parameters answers beyond its own
            schema (envelope keys, errors), for the OpenAPI document.
    """

    parameters: tuple[QueryParameter, ...]
    resolve: Callable[..., Awaitable[T]]
    returns: type[T]
    response: bool = False
    declaration: Declaration | None = None

    def __post_init__(self) -> None:
        names = [parameter.name for parameter in self.parameters]
        if len(set(names)) < len(names):
            raise ValueError("parameters: each name may appear once")
        reserved = {"request", "response"} & set(names)
        if reserved:
            raise ValueError(f"parameters: {sorted(reserved)[0]!r} is a reserved name")
