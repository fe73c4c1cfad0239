"""The Client: one libtelemetry client (one queue, one worker thread).

Calls go straight to the C library through ctypes, which releases the GIL
for the length of each foreign call, so blocking calls (flush, close, the
feedback calls) never stop other Python threads, and the worker thread can
take the GIL to run the logger and before-send callbacks meanwhile.
Callbacks never let an exception escape into C: it is logged on the
"telemetry" logger (and a failing before-send hook drops the event).
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import json
import logging
import os
import sys
import threading
import time
import traceback
import weakref
from dataclasses import dataclass, fields as dc_fields
from typing import (Any, Callable, Dict, Mapping, Optional,
                    Sequence, TypeVar, Union)

from . import _lib
from ._calls import FEEDBACK_TYPES, FeedbackCalls, on_worker, worker_scope
from .errors import TelemetryError, error_for, ClientClosed, InvalidArgument

log = logging.getLogger("telemetry")

F = TypeVar("F", bound=Callable[..., Any])

DEBUG, INFO, WARN, ERROR = 0, 1, 2, 3
_PY_LEVELS = {DEBUG: logging.DEBUG, INFO: logging.INFO,
              WARN: logging.WARNING, ERROR: logging.ERROR}

IMPACTS = {None: 0, "none": 0, "low": 1, "medium": 2, "high": 3,
           "critical": 4}
_SAMPLING_MODES = {"random": 0, "by_user": 1}
_FSYNC = {"batch": 0, "always": 1, "never": 2}

# Keyword options: name -> (setter suffix, converter). A converter returns
# the setter's argument tuple.
_b = lambda v: (1 if v else 0,)  # noqa: E731
_s = lambda v: (_enc(v),)  # noqa: E731
_n = lambda v: (int(v),)  # noqa: E731
_f = lambda v: (float(v),)  # noqa: E731
_OPTIONS: Dict[str, Any] = {
    "flush_interval_ms": ("flush_interval_ms", _n),
    "max_batch_events": ("max_batch_events", _n),
    "max_batch_bytes": ("max_batch_bytes", _n),
    "max_queue_events": ("max_queue_events", _n),
    "shutdown_timeout_ms": ("shutdown_timeout_ms", _n),
    "environment": ("environment", _s),
    "access_tier": ("access_tier", _s),
    "binding": ("binding", _s),
    "ca_bundle": ("ca_bundle", _s),
    "connect_timeout_ms": ("connect_timeout_ms", _n),
    "transfer_timeout_ms": ("transfer_timeout_ms", _n),
    "max_inflight": ("max_inflight", _n),
    "max_retries": ("max_retries", _n),
    "compression": ("compression", _b),
    "enabled": ("enabled", _b),
    "anonymization_salt": ("anonymization_salt", _s),
    "scrubbing": ("scrubbing", _b),
    "details_allowlist": ("details_allowlist",
                          lambda v: (_enc(v if v is None or isinstance(v, str)
                                          else ",".join(v)),)),
    "sampling_rate": ("sampling_rate", _f),
    "sampling_mode": ("sampling_mode",
                      lambda v: (_SAMPLING_MODES.get(v, v),)),
    "error_sampling_rate": ("error_sampling_rate", _f),
    "max_stack_frames": ("max_stack_frames", _n),
    "max_stack_bytes": ("max_stack_bytes", _n),
    "state_dir": ("state_dir", _s),
    "spool_dir": ("spool_dir", _s),
    "spool_max_bytes": ("spool_max_bytes", _n),
    "spool_fsync": ("spool_fsync", lambda v: (_FSYNC.get(v, v),)),
    "require_consent": ("require_consent", _b),
}


def _enc(v: Optional[str]) -> Optional[bytes]:
    if v is None:
        return None
    if isinstance(v, bytes):
        return v
    return str(v).encode("utf-8", "replace")


def _json(v: Any) -> Optional[bytes]:
    if v is None:
        return None
    if isinstance(v, (str, bytes)):
        return _enc(v)
    return json.dumps(v, separators=(",", ":"), default=str).encode()


def _ms(timeout: float) -> int:
    if timeout < 0:
        raise InvalidArgument("timeout must be >= 0 seconds")
    return min(int(timeout * 1000), 0xFFFFFFFF)


@dataclass(frozen=True)
class Stats:
    """A snapshot of the client's counters (tlm_stats; docs/c-api.md,
    "Stats", says what each one counts)."""

    enqueued: int = 0
    sent: int = 0
    duplicates: int = 0
    rejected: int = 0
    dropped_queue_full: int = 0
    dropped_disabled: int = 0
    dropped_before_send: int = 0
    dropped_http: int = 0
    dropped_retries: int = 0
    dropped_oversize: int = 0
    dropped_shutdown: int = 0
    retried: int = 0
    batches: int = 0
    requests: int = 0
    bytes_raw: int = 0
    bytes_compressed: int = 0
    queue_depth: int = 0
    inflight_events: int = 0
    dropped_nomem: int = 0
    sampled_out: int = 0
    debug_printed: int = 0
    dropped_consent: int = 0
    spooled: int = 0
    replayed: int = 0
    spool_kept: int = 0
    dropped_spool_full: int = 0
    errors_captured: int = 0
    errors_sent: int = 0
    errors_dropped: int = 0
    errors_sampled_out: int = 0
    errors_pending: int = 0


assert tuple(f.name for f in dc_fields(Stats)) == _lib.STATS_FIELDS


class Event:
    """An event as the before-send hook sees it; valid only during the
    hook's call. Fields are those of tlm_event_get_string/_number."""

    __slots__ = ("_lib", "_ptr")

    def __init__(self, lib: ctypes.CDLL, ptr: int) -> None:
        self._lib = lib
        self._ptr = ptr

    def get(self, field: str) -> Optional[str]:
        """A string field ("type", "endpoint", "method", "user_id",
        "error_code", "stack_trace", ...), None if absent."""
        v = self._lib.tlm_event_get_string(self._ptr, _enc(field))
        return None if v is None else v.decode("utf-8", "replace")

    def number(self, field: str) -> float:
        """"response_status", "response_time" or "sample_rate"."""
        return float(self._lib.tlm_event_get_number(self._ptr, _enc(field)))

    def set(self, field: str, value: Optional[str]) -> None:
        """Replaces a string field (None removes an optional one)."""
        rc = self._lib.tlm_event_set_string(self._ptr, _enc(field),
                                            _enc(value))
        if rc != 0:
            raise error_for(rc, "cannot set %r: %s" % (
                field, self._lib.tlm_strerror(rc).decode()))

    @property
    def type(self) -> Optional[str]:
        return self.get("type")

    @property
    def endpoint(self) -> Optional[str]:
        return self.get("endpoint")


class Call:
    """One timed call of Client.timed(): set ``status`` (and any of the
    other fields) inside the block; ``elapsed_ms`` is set at its end."""

    def __init__(self, endpoint: str, method: Optional[str],
                 fields: Dict[str, Any]) -> None:
        self.endpoint = endpoint
        self.method = method
        self.status: Optional[int] = None
        self.user_id: Optional[str] = fields.pop("user_id", None)
        self.organization_id: Optional[str] = fields.pop("organization_id",
                                                         None)
        self.access_tier: Optional[str] = fields.pop("access_tier", None)
        self.request_details: Optional[Mapping[str, Any]] = fields.pop(
            "request_details", None)
        if fields:
            raise TypeError("unknown field(s): " + ", ".join(sorted(fields)))
        self.elapsed_ms: Optional[float] = None
        self.error: Optional[BaseException] = None


class Timer:
    """What Client.timed() returns: a context manager (yielding a Call)
    and a decorator (timing every call of the function)."""

    def __init__(self, client: "Client", endpoint: str,
                 method: Optional[str], fields: Dict[str, Any]) -> None:
        self._client = client
        self._endpoint = endpoint
        self._method = method
        self._fields = fields
        self._calls: list = []

    def __enter__(self) -> Call:
        call = Call(self._endpoint, self._method, dict(self._fields))
        self._calls.append((call, time.perf_counter()))
        return call

    def __exit__(self, et, ev, tb) -> bool:
        call, start = self._calls.pop()
        call.elapsed_ms = (time.perf_counter() - start) * 1000.0
        self._client._finish(call, ev)
        return False

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with Timer(self._client, self._endpoint, self._method,
                       self._fields):
                return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]


_live: "weakref.WeakSet[Client]" = weakref.WeakSet()


_freeing: "set[threading.Thread]" = set()


def _free(lib: ctypes.CDLL, handle: int, keep: list) -> None:
    # `keep` (the client's ctypes callbacks) stays referenced until the
    # worker, which may still call them while closing, is gone.
    try:
        lib.tlm_client_free(handle)
    except Exception:  # pragma: no cover - interpreter shutdown
        pass
    del keep
    _freeing.discard(threading.current_thread())


@atexit.register
def _close_all() -> None:
    # The worker must be stopped while the interpreter can still run its
    # callbacks: a callback entering a finalizing interpreter would hang.
    for c in list(_live):
        try:
            c.close()
        except Exception:  # pragma: no cover - best effort at exit
            pass
    for t in list(_freeing):  # clients released inside a callback
        t.join(30)


class Client(FeedbackCalls):
    """A telemetry client over libtelemetry.

    ``Client(endpoint="http://127.0.0.1:8080", api_key="...")`` creates the
    client and starts its worker thread. ``config`` is a configuration
    document: a dict, a JSON string, or a path to a JSON file (the seed's
    format, docs/configuration.md); ``endpoint``, ``api_key`` and the
    keyword options are applied after it and win. Keyword options are the
    tlm_options_set_* names: ``flush_interval_ms``, ``environment``,
    ``sampling_rate``, ``spool_dir``, ``enabled``, ... plus
    ``scrub_patterns`` ({name: regex}), ``sampling_overrides`` ({endpoint:
    rate}) and ``anonymization=False`` (needs
    ``anonymization_acknowledged=True``).

    ``logger`` is a callable(level: int, message: str) or a
    logging.Logger; ``before_send`` a callable(event: Event) returning
    False to drop the event (anything else keeps it). Both run on the
    worker thread, holding the GIL while they run.

    ``library`` is a path to libtelemetry overriding the search.

    Feedback and feature requests come in three forms each: blocking
    (``submit_feedback``), a concurrent.futures.Future resolved from the
    worker thread (``submit_feedback_async``) and a coroutine
    (``submit_feedback_aio``); see _calls.FeedbackCalls.

    Use it as a context manager: leaving the block flushes and closes the
    client within ``shutdown_timeout_ms`` (default 2000).
    """

    def __init__(self, endpoint: Optional[str] = None,
                 api_key: Optional[str] = None,
                 config: Union[None, str, os.PathLike, Mapping[str, Any]] = None,
                 *, logger: Union[None, logging.Logger,
                                  Callable[[int, str], Any]] = None,
                 before_send: Optional[Callable[[Event], Any]] = None,
                 library: Optional[str] = None, **options: Any) -> None:
        self._handle: Optional[int] = None
        self._closed = False
        self._lib = _lib.load_library(library)
        self._shutdown_ms = int(options.get("shutdown_timeout_ms", 2000))
        self._keep: list = []  # ctypes callbacks: alive as long as we are
        opts = self._lib.tlm_options_new()
        if not opts:
            raise error_for(-2, "out of memory")
        try:
            self._configure(opts, endpoint, api_key, config, logger,
                            before_send, options)
            h = ctypes.c_void_p()
            rc = self._lib.tlm_client_new(ctypes.byref(h), opts)
            if rc != 0:
                raise self._err(rc, "cannot create the client")
            self._handle = h.value
        finally:
            self._lib.tlm_options_free(opts)
        _live.add(self)

    # --- setup ------------------------------------------------------------

    def _configure(self, opts, endpoint, api_key, config, logger,
                   before_send, options) -> None:
        L = self._lib

        def check(rc: int, what: str) -> None:
            if rc != 0:
                raise error_for(rc, "%s: %s" % (
                    what, L.tlm_options_last_error(opts).decode() or
                    L.tlm_strerror(rc).decode()))

        check(L.tlm_options_set_binding(opts, b"python"), "binding")
        if config is not None:
            if isinstance(config, Mapping):
                check(L.tlm_options_load_string(opts, _json(dict(config))),
                      "config")
            elif isinstance(config, str) and config.lstrip().startswith("{"):
                check(L.tlm_options_load_string(opts, _enc(config)), "config")
            else:
                check(L.tlm_options_load_file(opts, _enc(os.fspath(config))),
                      "config file %s" % os.fspath(config))
        if endpoint is not None:
            check(L.tlm_options_set_endpoint(opts, _enc(endpoint)),
                  "endpoint")
        if api_key is not None:
            check(L.tlm_options_set_api_key(opts, _enc(api_key)), "api_key")
        options = dict(options)
        for name, pattern in (options.pop("scrub_patterns", None)
                              or {}).items():
            check(L.tlm_options_add_scrub_pattern(opts, _enc(name),
                                                  _enc(pattern)),
                  "scrub_patterns[%r]" % name)
        for ep, rate in (options.pop("sampling_overrides", None)
                         or {}).items():
            check(L.tlm_options_set_sampling_override(opts, _enc(ep),
                                                      float(rate)),
                  "sampling_overrides[%r]" % ep)
        ack = options.pop("anonymization_acknowledged", False)
        if "anonymization" in options:
            check(L.tlm_options_set_anonymization(
                opts, 1 if options.pop("anonymization") else 0,
                1 if ack else 0), "anonymization")
        for name, value in options.items():
            if name not in _OPTIONS:
                raise TypeError("unknown option %r" % name)
            suffix, conv = _OPTIONS[name]
            check(getattr(L, "tlm_options_set_" + suffix)(opts, *conv(value)),
                  name)
        if logger is not None:
            fn = _lib.LOG_FN(self._make_logger(logger))
            self._keep.append(fn)
            check(L.tlm_options_set_logger(opts, fn, None), "logger")
        if before_send is not None:
            fn2 = _lib.BEFORE_SEND_FN(self._make_hook(before_send))
            self._keep.append(fn2)
            check(L.tlm_options_set_before_send(opts, fn2, None),
                  "before_send")

    @staticmethod
    def _make_logger(logger) -> Callable[[int, bytes, Any], None]:
        if isinstance(logger, logging.Logger):
            target = logger

            def logger(level: int, message: str) -> None:
                target.log(_PY_LEVELS.get(level, logging.INFO), "%s",
                           message)

        def trampoline(level: int, message: bytes, _ud: Any) -> None:
            # Runs on the worker thread; ctypes holds the GIL for us.
            with worker_scope():
                try:
                    logger(level, message.decode("utf-8", "replace")
                           if message else "")
                except BaseException:  # never unwind into C
                    log.exception("telemetry logger callback failed")
        return trampoline

    def _make_hook(self, hook) -> Callable[[int, Any], int]:
        lib = self._lib

        def trampoline(ptr: int, _ud: Any) -> int:
            with worker_scope():
                try:
                    keep = hook(Event(lib, ptr))
                except BaseException:  # never unwind into C; fail closed
                    log.exception("telemetry before_send hook failed; "
                                  "the event is dropped")
                    return 1
                return 1 if keep is False else 0
        return trampoline

    # --- helpers ----------------------------------------------------------

    def _err(self, rc: int, what: str) -> TelemetryError:
        return error_for(rc, "%s: %s" % (
            what, self._lib.tlm_strerror(rc).decode()))

    def _h(self) -> int:
        if self._handle is None:
            raise ClientClosed("the client is closed")
        return self._handle

    # --- lifecycle --------------------------------------------------------

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, et, ev, tb) -> None:
        self.close()

    def flush(self, timeout: float = 5.0) -> bool:
        """Sends what is queued and waits until it is settled or
        ``timeout`` seconds pass. True when everything was settled, False
        at the deadline (the events stay queued; nothing is dropped).
        Must not be called from a callback."""
        rc = self._lib.tlm_client_flush(self._h(), _ms(timeout))
        if rc in (0, -7):
            return rc == 0
        raise self._err(rc, "flush")

    def close(self, timeout: Optional[float] = None) -> bool:
        """Stops accepting events, sends what is queued and stops the
        worker within ``timeout`` seconds (default: the
        shutdown_timeout_ms option). True if nothing had to be dropped at
        the deadline. Closing again is a no-op returning True. stats()
        still works afterwards."""
        if self._handle is None or self._closed:
            return True
        ms = self._shutdown_ms if timeout is None else _ms(timeout)
        rc = self._lib.tlm_client_close(self._handle, ms)
        if rc == -1:  # from a callback (the worker): still open
            raise self._err(rc, "close")
        self._closed = True
        _live.discard(self)
        if rc in (0, -4):
            return True
        if rc == -7:
            return False
        raise self._err(rc, "close")

    def __del__(self) -> None:
        h, self._handle = getattr(self, "_handle", None), None
        if h is None:
            return
        if on_worker():
            # The last reference went inside a library callback (say, a
            # done-callback's closure): tlm_client_free would join the
            # worker from the worker itself. Free it from a thread of its
            # own, which also keeps the logger and before-send callbacks
            # alive until the worker has stopped calling them.
            t = threading.Thread(target=_free,
                                 args=(self._lib, h, self._keep),
                                 name="telemetry-free", daemon=True)
            _freeing.add(t)
            t.start()
            return
        _free(self._lib, h, self._keep)

    @property
    def enabled(self) -> bool:
        """Whether the client is enabled and open. Setting it switches
        telemetry on or off at run time (off purges what is queued)."""
        if self._handle is None:
            return False
        return bool(self._lib.tlm_client_is_enabled(self._handle))

    @enabled.setter
    def enabled(self, on: bool) -> None:
        rc = self._lib.tlm_client_set_enabled(self._h(), 1 if on else 0)
        if rc != 0:
            raise self._err(rc, "set enabled")

    def set_consent(self, given: bool) -> None:
        """Records the end user's consent decision (require_consent)."""
        rc = self._lib.tlm_client_set_consent(self._h(), 1 if given else 2)
        if rc != 0:
            raise self._err(rc, "set consent")

    def stats(self) -> Stats:
        """A snapshot of the counters (works after close too)."""
        s = _lib.new_struct(_lib.TlmStats)
        rc = self._lib.tlm_client_stats(self._h(), ctypes.byref(s))
        if rc != 0:
            raise self._err(rc, "stats")
        return Stats(**{n: getattr(s, n) for n in _lib.STATS_FIELDS})

    # --- tracking ---------------------------------------------------------

    def _request(self, endpoint: str, status: int, response_time_ms: float,
                 method: Optional[str] = None, user_id: Optional[str] = None,
                 organization_id: Optional[str] = None,
                 access_tier: Optional[str] = None,
                 request_details: Any = None) -> _lib.TlmRequest:
        r = _lib.new_struct(_lib.TlmRequest)
        r.endpoint = _enc(endpoint)
        r.method = _enc(method)
        r.response_status = int(status or 0)
        r.response_time_ms = float(response_time_ms)
        r.user_id = _enc(user_id)
        r.organization_id = _enc(organization_id)
        r.access_tier = _enc(access_tier)
        r.request_details = _json(request_details)
        return r

    def _tracked(self, rc: int, what: str) -> bool:
        # Telemetry must never break its host: a full queue, opt-out or
        # no memory only returns False (and is counted in stats()).
        if rc == 0:
            return True
        if rc in (-1, -4):
            raise self._err(rc, what)
        return False

    def track_request(self, endpoint: str, status: int,
                      response_time_ms: float, **fields: Any) -> bool:
        """Records one API request: ``endpoint`` (a template such as
        "GET /v1/items/{id}"), the HTTP ``status`` (0: no response) and
        the latency. ``fields``: method, user_id, organization_id,
        access_tier, request_details (a dict, sent as JSON).

        Never blocks. Returns True when queued, False when dropped (queue
        full, telemetry off: counted in stats()); raises InvalidArgument
        or ClientClosed."""
        r = self._request(endpoint, status, response_time_ms, **fields)
        return self._tracked(
            self._lib.tlm_track_request(self._h(), ctypes.byref(r)),
            "track_request")

    def timed(self, endpoint: str, method: Optional[str] = None,
              **fields: Any) -> Timer:
        """Times a call and records it as a request, as a context manager
        or a decorator::

            with client.timed("GET /v1/items/{id}") as call:
                resp = session.get(...)
                call.status = resp.status

        The status defaults to 200 when the block ends normally. An
        exception escaping the block is recorded with the request
        (tlm_track_request_error: its class as error_code, its message,
        its Python traceback as stack_trace); the request's status is
        then the one set on ``call`` if any, else 0 (a failed call: the
        server counts status 0 as an error). The exception is re-raised.
        ``fields`` as track_request's."""
        return Timer(self, endpoint, method, fields)

    def _finish(self, call: Call, exc: Optional[BaseException]) -> None:
        try:
            status = call.status
            if status is None:
                status = 0 if exc is not None else 200
            r = self._request(call.endpoint, status, call.elapsed_ms or 0.0,
                              call.method, call.user_id,
                              call.organization_id, call.access_tier,
                              call.request_details)
            if exc is None:
                self._tracked(self._lib.tlm_track_request(
                    self._h(), ctypes.byref(r)), "timed")
                return
            call.error = exc
            e, keep = self._error_event(exc, None, {})
            self._tracked(self._lib.tlm_track_request_error(
                self._h(), ctypes.byref(r), ctypes.byref(e)), "timed")
        except TelemetryError:
            if exc is None:
                raise
            # Do not hide the caller's exception behind ours.
            log.exception("telemetry: recording the failed call failed")

    @staticmethod
    def _error_event(exc: BaseException, endpoint: Optional[str],
                     fields: Dict[str, Any]):
        e = _lib.new_struct(_lib.TlmErrorEvent)
        cls = type(exc)
        code = cls.__qualname__
        if cls.__module__ not in ("builtins", "__main__"):
            code = cls.__module__ + "." + code
        msg = fields.pop("message", None) or str(exc) or cls.__name__
        stack = "".join(traceback.format_exception(cls, exc,
                                                   exc.__traceback__))
        keep = []
        e.endpoint = _enc(endpoint)
        e.error_code = _enc(fields.pop("error_code", None) or code[:256])
        e.error_message = _enc(msg)
        e.stack_trace = _enc(stack)
        e.request_details = _json(fields.pop("request_details", None))
        impact = fields.pop("impact", None)
        if impact not in IMPACTS:
            raise InvalidArgument("impact must be one of low, medium, "
                                  "high, critical")
        e.impact = IMPACTS[impact]
        e.user_id = _enc(fields.pop("user_id", None))
        e.organization_id = _enc(fields.pop("organization_id", None))
        fp = fields.pop("fingerprint", None)
        if fp is not None:
            if isinstance(fp, str):
                fp = [fp]
            arr = (ctypes.c_char_p * len(fp))(*[_enc(p) for p in fp])
            keep.append(arr)
            e.fingerprint = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p))
            e.fingerprint_count = len(fp)
        if fields:
            raise TypeError("unknown field(s): " + ", ".join(sorted(fields)))
        return e, keep

    def capture_exception(self, exc: Optional[BaseException] = None,
                          endpoint: Optional[str] = None,
                          **fields: Any) -> bool:
        """Records an error event for ``exc`` (default: the exception
        being handled, sys.exc_info()). error_code is the exception's
        class ("ValueError", "mypkg.ApiError"), error_message its text,
        stack_trace its formatted Python traceback. ``fields``: message,
        error_code (overriding those), user_id, organization_id,
        request_details (dict), impact ("low" .. "critical"), fingerprint
        (a string or a list of 1..8). Returns True when queued, False
        when dropped; raises ValueError outside an except block without
        ``exc``."""
        if exc is None:
            exc = sys.exc_info()[1]
            if exc is None:
                raise ValueError("capture_exception(): no exception given "
                                 "and none is being handled")
        e, keep = self._error_event(exc, endpoint, dict(fields))
        rc = self._lib.tlm_capture_error(self._h(), ctypes.byref(e))
        del keep
        return self._tracked(rc, "capture_exception")
