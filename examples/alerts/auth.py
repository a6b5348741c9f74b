"""GenieKey authentication for the Alerts API demo.

OpsGenie authenticates with ``Authorization: GenieKey <key>``: no header, another scheme or
an unknown key answers 401 ``Could not authenticate``; a key without write access used on a
write answers 403 (code 40301). The per-key rate limit is the library's
(``opsgenie_envelope.ratelimit``), checked by the API module after authentication.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from opsgenie_envelope import Forbidden, Unauthenticated

__all__ = ["Caller", "Gate"]

SCHEME = "GenieKey"


@dataclass(frozen=True)
class Caller:
    """Who is calling: which key (by its setting's name), and whether it may write."""

    key_name: str
    can_write: bool

    def check_write(self) -> None:
        """Raise ``Forbidden`` (403, code 40301) unless this key may write."""
        if not self.can_write:
            raise Forbidden(
                "You are not allowed to perform this operation: the API key is read-only"
            )


class Gate:
    """Turn an ``Authorization`` header into a :class:`Caller`.

    Args:
        keys: key → (setting name, whether it may write).
    """

    def __init__(self, keys: dict[str, tuple[str, bool]]) -> None:
        self._keys = [(key.encode(), Caller(name, write)) for key, (name, write) in keys.items()]

    def admit(self, authorization: str | None) -> Caller:
        """The caller behind ``authorization``; 401 when unknown."""
        caller = self._caller(authorization)
        if caller is None:
            raise Unauthenticated(headers={"WWW-Authenticate": SCHEME})
        return caller

    def _caller(self, authorization: str | None) -> Caller | None:
        scheme, _, key = (authorization or "").strip().partition(" ")
        if scheme.lower() != SCHEME.lower() or not key.strip():
            return None
        given = key.strip().encode()
        found = None
        for known, caller in self._keys:
            # Compare with every key, in constant time, so timing tells nothing.
            if hmac.compare_digest(given, known):
                found = caller
        return found
