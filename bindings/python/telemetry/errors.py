"""The exception hierarchy, mapped from the library's TLM_E* codes.

Every exception raised by the binding for a library error is a
TelemetryError carrying the C code (``.code``) and tlm_strerror()'s text or
a more precise message. Several also derive from the matching builtin, so
``except ValueError`` or ``except TimeoutError`` catch them as expected.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Type

OK = 0
EINVAL = -1
ENOMEM = -2
EFULL = -3
ECLOSED = -4
ECONFIG = -5
EIO = -6
ETIMEDOUT = -7
EDISABLED = -8
ETHREAD = -9
ETRANSPORT = -10
EREJECTED = -11
EUNAVAILABLE = -12


class TelemetryError(Exception):
    """Base of every error of the binding. ``code`` is the TLM_E* value."""

    code: int = 0

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidArgument(TelemetryError, ValueError):
    """TLM_EINVAL: an argument is empty, out of range or the wrong kind."""
    code = EINVAL


class OutOfMemory(TelemetryError, MemoryError):
    """TLM_ENOMEM: the library could not allocate."""
    code = ENOMEM


class QueueFull(TelemetryError):
    """TLM_EFULL: the queue (or the outstanding-calls cap) is full."""
    code = EFULL


class ClientClosed(TelemetryError):
    """TLM_ECLOSED: the client is closed."""
    code = ECLOSED


class ConfigError(TelemetryError, ValueError):
    """TLM_ECONFIG: a configuration value or document is invalid."""
    code = ECONFIG


class TelemetryIOError(TelemetryError, OSError):
    """TLM_EIO: a file (state, spool, config) could not be read or written,
    or an answer was too large."""
    code = EIO


class Timeout(TelemetryError, TimeoutError):
    """TLM_ETIMEDOUT: the deadline passed before the work was done."""
    code = ETIMEDOUT


class Disabled(TelemetryError):
    """TLM_EDISABLED: telemetry is switched off (opt-out, consent)."""
    code = EDISABLED


class ThreadError(TelemetryError):
    """TLM_ETHREAD: the worker thread could not be started."""
    code = ETHREAD


class TransportError(TelemetryError):
    """TLM_ETRANSPORT: the HTTP transport could not be set up."""
    code = ETRANSPORT


class Rejected(TelemetryError):
    """TLM_EREJECTED: the server refused the request with a 4xx.

    ``status`` is the HTTP status, ``body`` the server's answer as text,
    ``json`` it parsed (or None), and the message is its ``error`` field.
    """
    code = EREJECTED

    def __init__(self, message: str, status: int = 0,
                 body: Optional[str] = None) -> None:
        self.status = status
        self.body = body
        self.json: Optional[Dict[str, Any]] = None
        if body:
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                self.json = doc
                if isinstance(doc.get("error"), str):
                    message = doc["error"]
        super().__init__("HTTP %d: %s" % (status, message))

    @property
    def field(self) -> Optional[str]:
        """The offending field the server named, if any."""
        return (self.json or {}).get("field")


class Unavailable(TelemetryError):
    """TLM_EUNAVAILABLE: the server stayed unreachable or kept failing
    until the retries ran out."""
    code = EUNAVAILABLE


class LibraryNotFoundError(TelemetryError, OSError):
    """libtelemetry could not be found or loaded; the message names every
    place tried, in the search order."""


_BY_CODE: Dict[int, Type[TelemetryError]] = {
    cls.code: cls for cls in (
        InvalidArgument, OutOfMemory, QueueFull, ClientClosed, ConfigError,
        TelemetryIOError, Timeout, Disabled, ThreadError, TransportError,
        Rejected, Unavailable)
}


def error_for(code: int, message: str) -> TelemetryError:
    """The exception for a TLM_E* code (TelemetryError for unknown ones)."""
    cls = _BY_CODE.get(code)
    if cls is None or cls is Rejected:
        return TelemetryError(message, code)
    return cls(message)
