"""Request IDs: a fast UUID4 generator and the allowlist for incoming IDs."""

from __future__ import annotations

import os
import re

__all__ = ["is_valid_request_id", "uuid4_hex"]

# The variant nibble of an RFC 4122 UUID is 10xx: map any hex digit onto 8, 9, a or b.
_VARIANT = bytes.maketrans(b"0123456789abcdef", b"89ab89ab89ab89ab")
_ALLOWED = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_urandom = os.urandom

_BATCH = 256
"""IDs formatted per ``os.urandom`` call (one 4 KiB read, about 40 us, every 256 requests)."""
_TEMPLATE = b"00000000-0000-4000-8000-000000000000 " * _BATCH
_STRIDE = 37  # 36 characters and a space per ID in the template
# Template column of each of the 32 hex digits: digit 12 is the version (the template's
# "4", never copied) and digit 16 the variant (translated onto 8, 9, a or b).
_COLUMNS = [c for c in range(36) if c not in (8, 13, 18, 23)]
_COPIES = [(c, d) for d, c in enumerate(_COLUMNS) if d not in (12, 16)]
_VARIANT_COLUMN = _COLUMNS[16]
_pool: list[str] = []
_pop = _pool.pop


def _refill() -> None:
    """Format a batch of UUID4s at once: each hex column is one strided slice copy."""
    digits = _urandom(16 * _BATCH).hex().encode()
    out = bytearray(_TEMPLATE)
    for column, digit in _COPIES:
        out[column::_STRIDE] = digits[digit::32]
    out[_VARIANT_COLUMN::_STRIDE] = digits[16::32].translate(_VARIANT)
    _pool.extend(out.decode().split())


# A forked child starts with an empty batch: the IDs left in the parent's stay the parent's.
if hasattr(os, "register_at_fork"):  # not on Windows, where there is no fork
    os.register_at_fork(after_in_child=_pool.clear)


def uuid4_hex() -> str:
    """Return a random lower-case UUID4 string, e.g. ``8a88410f-3129-483d-87b7-b09ffdb1ac2c``.

    122 random bits from ``os.urandom``, version and variant set as RFC 4122 requires. IDs
    are formatted in batches of 256 and handed out once each (``list.pop`` is atomic, so
    threads never share one; a forked child starts with an empty batch): about 0.2 us per
    ID against 2.4 us for ``str(uuid.uuid4())``.
    """
    while True:
        try:
            return _pop()
        except IndexError:
            _refill()


def is_valid_request_id(value: str) -> bool:
    """Tell whether an incoming ``X-Request-ID`` may be trusted.

    The allowlist: characters ``[A-Za-z0-9._:-]``, length 1 to 128. It accepts UUIDs,
    32-hex trace IDs and ULIDs, and refuses anything that could forge log lines or headers.
    """
    return _ALLOWED.fullmatch(value) is not None
