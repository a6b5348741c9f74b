"""Deprecated: the asynchronous-requests subpackage is now :mod:`opsgenie_envelope.request_status`.

``opsgenie_envelope.requests`` shadowed the ``requests`` package in user code, and
``AsyncRequests`` read like an HTTP client. Import from the new path instead::

    from opsgenie_envelope.request_status import RequestTracker

This module re-exports the new names (``AsyncRequests`` is :class:`RequestTracker`) and
warns once on import; it will be removed in the next release.
"""

from __future__ import annotations

import warnings

from ..request_status import *  # noqa: F403
from ..request_status import RequestTracker
from ..request_status import __all__ as _new_all

AsyncRequests = RequestTracker
"""Deprecated name of :class:`opsgenie_envelope.request_status.RequestTracker`."""

__all__ = [*_new_all, "AsyncRequests"]

warnings.warn(
    "opsgenie_envelope.requests is deprecated: import from opsgenie_envelope.request_status "
    "(AsyncRequests is now RequestTracker)",
    DeprecationWarning,
    stacklevel=2,
)
