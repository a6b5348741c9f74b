"""Who is calling: one reading of ``Authorization: GenieKey``, and the caller an app verified.

Rate limits and request statuses must count and own *checked* identities, never a value a
client merely sent. The app's authentication reads the key with :func:`genie_key` (the one
parser: a header any reader could take two ways is refused), checks it, then records the
result with :func:`set_caller`; :func:`get_caller` reads it back (rate-limit keys do).
"""

from __future__ import annotations

import hashlib
import re

from starlette.requests import HTTPConnection

from ._errors import Unauthenticated
from ._options import check_str

__all__ = ["CALLER_KEY", "MAX_API_KEY", "digest", "genie_key", "get_caller", "set_caller"]

CALLER_KEY = "opsgenie_envelope.caller"
"""Scope key holding the caller the app authenticated (:func:`set_caller`)."""

MAX_API_KEY = 512
"""Longest API key read from ``Authorization``; a longer one is a 401."""

_PERSON = b"og-envelope-key"
_SCHEME = b"geniekey"
_SPACE = b" \t"  # HTTP's optional whitespace: nothing else separates or surrounds the key
_KEY = re.compile(rb"[!-~]{1,%d}" % MAX_API_KEY)  # visible ASCII: no space, control or 8-bit


def digest(value: str) -> str:
    """A one-way digest of ``value`` for storage keys and logs (BLAKE2b, 128 bits, hex).

    The same value always gives the same digest, so it counts as the same caller, but the
    digest does not reveal the value. Use it on anything secret that is stored.

    Example::

        async def by_token(connection: HTTPConnection) -> str | None:
            token = connection.headers.get("x-token")
            return None if token is None else digest(token)
    """
    return hashlib.blake2b(value.encode(), digest_size=16, person=_PERSON).hexdigest()


def _unauthenticated() -> Unauthenticated:
    return Unauthenticated(headers={"WWW-Authenticate": "GenieKey"})


def genie_key(connection: HTTPConnection) -> str | None:
    """The API key of ``Authorization: GenieKey <key>``, read from the raw header bytes.

    ``None`` when there is no ``Authorization`` header or it names another scheme (the
    scheme is matched case-insensitively). A header that could be read more than one way
    raises :class:`~opsgenie_envelope.Unauthenticated` (401): several ``Authorization``
    headers, a key with a non-ASCII, control or space character inside, or a key longer than
    :data:`MAX_API_KEY`. Only spaces and tabs around the key are ignored (Unicode spaces
    such as ``\\xa0`` are not), so one key has one spelling and every reader (the app's
    authentication, a rate limit) sees the same key.

    Example::

        key = genie_key(request)
        if key is None or key not in KEYS:
            raise Unauthenticated()
        set_caller(request, KEYS[key].account)
    """
    found: bytes | None = None
    for name, value in connection.scope["headers"]:
        if name == b"authorization":
            if found is not None:
                raise _unauthenticated()
            found = value
    if found is None:
        return None
    scheme, _, key = found.strip(_SPACE).partition(b" ")
    if scheme.lower() != _SCHEME:
        return None
    if _KEY.fullmatch(key := key.strip(_SPACE)) is None:
        raise _unauthenticated()
    return key.decode("ascii")


def set_caller(connection: HTTPConnection, caller: str) -> None:
    """Record who ``connection`` was authenticated as: rate limits count requests by it.

    Call it from the app's authentication, once the credentials are checked (a FastAPI
    dependency, a Starlette middleware). ``caller`` is the app's own name for the identity
    (an account, a key's name, a user ID); it is digested before it is stored anywhere.

    Example::

        set_caller(request, f"account:{account.id}")
    """
    connection.scope[CALLER_KEY] = check_str("caller", caller)


def get_caller(connection: HTTPConnection) -> str | None:
    """The caller :func:`set_caller` recorded for ``connection``; ``None`` before (or without)."""
    caller: str | None = connection.scope.get(CALLER_KEY)
    return caller
