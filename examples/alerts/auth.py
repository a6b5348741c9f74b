"""GenieKey authentication for the Alerts API demo.

OpsGenie authenticates with ``Authorization: GenieKey <key>``: no header, another scheme or
an unknown key answers 401 ``Could not authenticate``; a key without write access used on a
write answers 403 (code 40301). The key is read once, by ``opsgenie_envelope.genie_key``
(a key spelled with Unicode spaces or control characters is a 401, never another key), and
the caller it proves is recorded with ``set_caller``: the per-key rate limit
(``opsgenie_envelope.ratelimit``, checked by the API module after authentication) counts
verified keys only. Failed attempts are throttled by client address: past
:data:`FAILED_ATTEMPTS` a minute, an address gets 429 instead of 401.

Every key belongs to one account (:data:`ACCOUNT`), as in OpsGenie: request statuses are
owned by the account, so either key reads the statuses the other accepted.
"""

from __future__ import annotations

import hmac
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from opsgenie_envelope import Forbidden, Unauthenticated, genie_key, set_caller
from opsgenie_envelope.ratelimit import RateLimit

__all__ = ["ACCOUNT", "FAILED_ATTEMPTS", "Caller", "Gate", "current_account"]

SCHEME = "GenieKey"
ACCOUNT = "demo"
"""The account every demo key belongs to: the owner of its request statuses."""
FAILED_ATTEMPTS = "10/minute"
"""Failed authentications allowed per client address (IPv6: per /64)."""

_account: ContextVar[str | None] = ContextVar("alerts.account", default=None)


@dataclass(frozen=True)
class Caller:
    """Who is calling: which key (by its setting's name), its account, and whether it may write."""

    key_name: str
    can_write: bool
    account: str = ACCOUNT

    def check_write(self) -> None:
        """Raise ``Forbidden`` (403, code 40301) unless this key may write."""
        if not self.can_write:
            raise Forbidden(
                "You are not allowed to perform this operation: the API key is read-only"
            )


def current_account() -> str:
    """The account of the request being served, once :meth:`Gate.admit` admitted it."""
    account = _account.get()
    if account is None:
        raise RuntimeError("no authenticated request is being served")
    return account


class Gate:
    """Turn a request's ``Authorization`` header into a :class:`Caller`.

    Args:
        keys: key → (setting name, whether it may write).
        failures: the limit on failed attempts, counted by client address (in memory by
            default; give one on the demo's Redis to share it between workers).
    """

    def __init__(
        self, keys: dict[str, tuple[str, bool]], failures: RateLimit | None = None
    ) -> None:
        self._keys = [(key.encode(), Caller(name, write)) for key, (name, write) in keys.items()]
        self.failures = failures or RateLimit(FAILED_ATTEMPTS, key="address", name="auth")

    async def admit(self, connection: HTTPConnection) -> Caller:
        """The caller behind the request's key; 401 when unknown (429 past too many failures).

        The caller is recorded with ``set_caller`` (its key's name), so rate limits count it.
        """
        try:
            caller = self._caller(genie_key(connection))
        except Unauthenticated:
            caller = None  # a key spelled two ways: a failure like any other
        if caller is None:
            await self.failures.check(connection)  # 429 once this address failed too often
            raise Unauthenticated(headers={"WWW-Authenticate": SCHEME})
        set_caller(connection, caller.key_name)
        _account.set(caller.account)
        return caller

    def _caller(self, key: str | None) -> Caller | None:
        if key is None:
            return None
        given = key.encode()
        found = None
        for known, caller in self._keys:
            # Compare with every key, in constant time, so timing tells nothing.
            if hmac.compare_digest(given, known):
                found = caller
        return found

    async def aclose(self) -> None:
        """Close the failure limit's storage connections."""
        await self.failures.aclose()
