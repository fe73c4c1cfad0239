"""Finding and loading libtelemetry, and its C declarations for ctypes.

This module owns the shared library handle and the ctypes mirrors of the
structs of include/telemetry.h (0.1.0). It never calls into a client; see
client.py for that.

Search order of load_library() (the first that loads wins):

1. the explicit ``path`` argument (``Client(library=...)``,
   ``telemetry.load_library(path)``);
2. the ``TELEMETRY_LIBRARY`` environment variable (a file path);
3. a copy inside the package directory (``telemetry/libtelemetry.so.0``,
   then ``telemetry/libtelemetry.so``);
4. the system: ``libtelemetry.so.0`` through the dynamic loader
   (``LD_LIBRARY_PATH``, ``/etc/ld.so.cache``, the default directories),
   then whatever ``ctypes.util.find_library("telemetry")`` names;
5. run from the source tree (``<repo>/bindings/python/telemetry``): the
   meson build directory ``<repo>/build/lib/``.

An explicit path or ``TELEMETRY_LIBRARY`` that does not load is an error
of its own: the search does not go on to guess another library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_int,
                    c_size_t, c_uint, c_uint32, c_uint64, c_void_p)
from typing import List, Optional, Tuple

from .errors import LibraryNotFoundError

SONAME = "libtelemetry.so.0"
ENV_VAR = "TELEMETRY_LIBRARY"
_MIN_VERSION = (0 << 16) | (1 << 8) | 0

SEARCH_ORDER = (
    "the path argument, "
    "$" + ENV_VAR + ", "
    "a copy in the package directory (" + SONAME + " / libtelemetry.so), "
    "the system's " + SONAME + " (dynamic loader, then "
    "ctypes.util.find_library), "
    "the source tree's build/lib/"
)


# --- C declarations --------------------------------------------------------

LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_void_p)
BEFORE_SEND_FN = CFUNCTYPE(c_int, c_void_p, c_void_p)


class TlmRequest(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("endpoint", c_char_p),
        ("method", c_char_p),
        ("response_status", c_int),
        ("response_time_ms", c_double),
        ("user_id", c_char_p),
        ("organization_id", c_char_p),
        ("access_tier", c_char_p),
        ("request_details", c_char_p),
    ]


class TlmErrorEvent(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("endpoint", c_char_p),
        ("error_code", c_char_p),
        ("error_message", c_char_p),
        ("stack_trace", c_char_p),
        ("capture_stack", c_int),
        ("request_details", c_char_p),
        ("impact", c_int),
        ("user_id", c_char_p),
        ("organization_id", c_char_p),
        ("fingerprint", POINTER(c_char_p)),
        ("fingerprint_count", c_size_t),
    ]


class TlmFeedback(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("type", c_int),
        ("content", c_char_p),
        ("category", c_char_p),
        ("rating", c_int),
        ("context_json", c_char_p),
        ("feature", c_char_p),
        ("endpoint", c_char_p),
        ("user_id", c_char_p),
        ("summary", c_char_p),
        ("steps_to_reproduce", c_char_p),
        ("expected", c_char_p),
        ("actual", c_char_p),
    ]


class TlmFeatureRequest(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("title", c_char_p),
        ("description", c_char_p),
        ("use_case", c_char_p),
        ("user_id", c_char_p),
    ]


class TlmFeatureQuery(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("sort", c_char_p),
        ("status", c_char_p),
        ("limit", c_uint32),
        ("cursor", c_char_p),
    ]


class TlmResponse(Structure):
    # What a tlm_response_fn sees, borrowed for the callback only: body
    # and id stay c_void_p so the trampoline copies exactly body_len bytes.
    _fields_ = [
        ("size", c_size_t),
        ("status", c_int),
        ("body", c_void_p),
        ("body_len", c_size_t),
        ("id", c_void_p),
        ("spooled", c_int),
        ("idempotency_key", c_void_p),
    ]


# void (*tlm_response_fn)(int rc, const tlm_response *r, void *userdata)
RESPONSE_FN = CFUNCTYPE(None, c_int, POINTER(TlmResponse), c_void_p)


class TlmReply(Structure):
    # body and id are c_void_p, not c_char_p: ctypes would copy a c_char_p
    # into a bytes object and lose the pointer tlm_reply_free() needs.
    _fields_ = [
        ("size", c_size_t),
        ("status", c_int),
        ("body", c_void_p),
        ("body_len", c_size_t),
        ("id", c_void_p),
        ("spooled", c_int),
    ]


STATS_FIELDS = (
    "enqueued", "sent", "duplicates", "rejected", "dropped_queue_full",
    "dropped_disabled", "dropped_before_send", "dropped_http",
    "dropped_retries", "dropped_oversize", "dropped_shutdown", "retried",
    "batches", "requests", "bytes_raw", "bytes_compressed", "queue_depth",
    "inflight_events", "dropped_nomem", "sampled_out", "debug_printed",
    "dropped_consent", "spooled", "replayed", "spool_kept",
    "dropped_spool_full", "errors_captured", "errors_sent", "errors_dropped",
    "errors_sampled_out", "errors_pending",
)


class TlmStats(Structure):
    _fields_ = [("size", c_size_t)] + [(n, c_uint64) for n in STATS_FIELDS]


def new_struct(cls):
    """An instance of a versioned struct with its `size` set."""
    s = cls()
    s.size = ctypes.sizeof(cls)
    return s


_P = c_void_p
_S = c_char_p
_I = c_int
_U32 = c_uint32

# name: (restype, argtypes)
_PROTOTYPES = {
    "tlm_version": (c_char_p, []),
    "tlm_version_num": (c_uint, []),
    "tlm_strerror": (c_char_p, [_I]),
    "tlm_options_new": (_P, []),
    "tlm_options_free": (None, [_P]),
    "tlm_options_set_endpoint": (_I, [_P, _S]),
    "tlm_options_set_api_key": (_I, [_P, _S]),
    "tlm_options_set_flush_interval_ms": (_I, [_P, _U32]),
    "tlm_options_set_max_batch_events": (_I, [_P, _U32]),
    "tlm_options_set_max_batch_bytes": (_I, [_P, c_size_t]),
    "tlm_options_set_max_queue_events": (_I, [_P, _U32]),
    "tlm_options_set_shutdown_timeout_ms": (_I, [_P, _U32]),
    "tlm_options_set_environment": (_I, [_P, _S]),
    "tlm_options_set_access_tier": (_I, [_P, _S]),
    "tlm_options_set_binding": (_I, [_P, _S]),
    "tlm_options_set_ca_bundle": (_I, [_P, _S]),
    "tlm_options_set_connect_timeout_ms": (_I, [_P, _U32]),
    "tlm_options_set_transfer_timeout_ms": (_I, [_P, _U32]),
    "tlm_options_set_max_inflight": (_I, [_P, _U32]),
    "tlm_options_set_max_retries": (_I, [_P, _U32]),
    "tlm_options_set_compression": (_I, [_P, _I]),
    "tlm_options_set_enabled": (_I, [_P, _I]),
    "tlm_options_set_logger": (_I, [_P, LOG_FN, _P]),
    "tlm_options_set_before_send": (_I, [_P, BEFORE_SEND_FN, _P]),
    "tlm_options_set_anonymization_salt": (_I, [_P, _S]),
    "tlm_options_set_anonymization": (_I, [_P, _I, _I]),
    "tlm_options_set_scrubbing": (_I, [_P, _I]),
    "tlm_options_add_scrub_pattern": (_I, [_P, _S, _S]),
    "tlm_options_set_details_allowlist": (_I, [_P, _S]),
    "tlm_options_set_sampling_rate": (_I, [_P, c_double]),
    "tlm_options_set_sampling_override": (_I, [_P, _S, c_double]),
    "tlm_options_set_sampling_mode": (_I, [_P, _I]),
    "tlm_options_set_error_sampling_rate": (_I, [_P, c_double]),
    "tlm_options_set_max_stack_frames": (_I, [_P, _U32]),
    "tlm_options_set_max_stack_bytes": (_I, [_P, _U32]),
    "tlm_options_set_state_dir": (_I, [_P, _S]),
    "tlm_options_set_spool_dir": (_I, [_P, _S]),
    "tlm_options_set_spool_max_bytes": (_I, [_P, c_uint64]),
    "tlm_options_set_spool_fsync": (_I, [_P, _I]),
    "tlm_options_set_require_consent": (_I, [_P, _I]),
    "tlm_options_load_string": (_I, [_P, _S]),
    "tlm_options_load_file": (_I, [_P, _S]),
    "tlm_options_last_error": (c_char_p, [_P]),
    "tlm_options_warnings": (c_char_p, [_P]),
    "tlm_client_new": (_I, [POINTER(c_void_p), _P]),
    "tlm_client_flush": (_I, [_P, _U32]),
    "tlm_client_close": (_I, [_P, _U32]),
    "tlm_client_free": (None, [_P]),
    "tlm_client_set_enabled": (_I, [_P, _I]),
    "tlm_client_is_enabled": (_I, [_P]),
    "tlm_client_set_consent": (_I, [_P, _I]),
    "tlm_client_consent": (_I, [_P]),
    "tlm_client_stats": (_I, [_P, POINTER(TlmStats)]),
    "tlm_track_request": (_I, [_P, POINTER(TlmRequest)]),
    "tlm_capture_error": (_I, [_P, POINTER(TlmErrorEvent)]),
    "tlm_track_request_error":
        (_I, [_P, POINTER(TlmRequest), POINTER(TlmErrorEvent)]),
    "tlm_event_get_string": (c_char_p, [_P, _S]),
    "tlm_event_get_number": (c_double, [_P, _S]),
    "tlm_event_set_string": (_I, [_P, _S, _S]),
    "tlm_reply_free": (None, [POINTER(TlmReply)]),
    "tlm_feedback_submit_wait":
        (_I, [_P, POINTER(TlmFeedback), _U32, POINTER(TlmReply)]),
    "tlm_feedback_get_wait": (_I, [_P, _S, _U32, POINTER(TlmReply)]),
    "tlm_feature_request_submit_wait":
        (_I, [_P, POINTER(TlmFeatureRequest), _U32, POINTER(TlmReply)]),
    "tlm_feature_requests_list_wait":
        (_I, [_P, POINTER(TlmFeatureQuery), _U32, POINTER(TlmReply)]),
    "tlm_feature_request_vote_wait": (_I, [_P, _S, _S, _U32,
                                           POINTER(TlmReply)]),
    "tlm_feature_request_unvote_wait": (_I, [_P, _S, _S, _U32,
                                             POINTER(TlmReply)]),
    # The async forms: the callback runs once, on the worker thread.
    "tlm_feedback_submit":
        (_I, [_P, POINTER(TlmFeedback), RESPONSE_FN, _P]),
    "tlm_feedback_get": (_I, [_P, _S, RESPONSE_FN, _P]),
    "tlm_feature_request_submit":
        (_I, [_P, POINTER(TlmFeatureRequest), RESPONSE_FN, _P]),
    "tlm_feature_requests_list":
        (_I, [_P, POINTER(TlmFeatureQuery), RESPONSE_FN, _P]),
    "tlm_feature_request_vote": (_I, [_P, _S, _S, RESPONSE_FN, _P]),
    "tlm_feature_request_unvote": (_I, [_P, _S, _S, RESPONSE_FN, _P]),
}


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    for name, (res, args) in _PROTOTYPES.items():
        fn = getattr(lib, name)  # AttributeError: too old a library
        fn.restype = res
        fn.argtypes = args
    ver = lib.tlm_version_num()
    if ver < _MIN_VERSION or (ver >> 16) != (_MIN_VERSION >> 16):
        raise LibraryNotFoundError(
            "libtelemetry %s is not compatible with this binding (needs "
            "0.x >= 0.1.0)" % lib.tlm_version().decode())
    return lib


def _candidates() -> List[Tuple[str, str]]:
    """(description, name-or-path) of steps 3 to 5, in order."""
    here = os.path.dirname(os.path.abspath(__file__))
    out = [("package copy", os.path.join(here, SONAME)),
           ("package copy", os.path.join(here, "libtelemetry.so")),
           ("system", SONAME)]
    found = ctypes.util.find_library("telemetry")
    if found:
        out.append(("find_library", found))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    if os.path.basename(os.path.dirname(here)) == "python" and \
            os.path.isfile(os.path.join(repo, "include", "telemetry.h")):
        out.append(("source tree",
                    os.path.join(repo, "build", "lib", SONAME)))
    return out


_lock = threading.Lock()
_cache = {}


def load_library(path: Optional[str] = None) -> ctypes.CDLL:
    """Loads libtelemetry (once per path) and declares its functions.

    ``path`` overrides the search; without it the order is the module's
    docstring's. Raises LibraryNotFoundError (an OSError) naming every
    place tried.
    """
    key = path or os.environ.get(ENV_VAR) or ""
    with _lock:
        lib = _cache.get(key)
        if lib is not None:
            return lib
        if key:
            where = "the path argument" if path else "$" + ENV_VAR
            try:
                lib = _declare(ctypes.CDLL(key))
            except (OSError, AttributeError) as e:
                raise LibraryNotFoundError(
                    "libtelemetry: %s names %r, which does not load: %s "
                    "(search order: %s)" % (where, key, e, SEARCH_ORDER)
                ) from e
            _cache[key] = lib
            return lib
        tried = []
        for what, name in _candidates():
            if os.sep in name and not os.path.exists(name):
                tried.append("%s %s: not there" % (what, name))
                continue
            try:
                lib = _declare(ctypes.CDLL(name))
            except (OSError, AttributeError) as e:
                tried.append("%s %s: %s" % (what, name, e))
                continue
            _cache[key] = lib
            return lib
        raise LibraryNotFoundError(
            "libtelemetry not found. Search order: %s. Tried: %s. Install "
            "libtelemetry (ninja -C build install, or the package), or set "
            "%s=/path/to/%s." % (SEARCH_ORDER, "; ".join(tried), ENV_VAR,
                                 SONAME))
