"""Feedback and feature-request calls: blocking, Future-based and asyncio.

Every operation is built once (``_Op``: the C struct or strings, the
blocking *_wait function, the async function, the answer's parser) and run
three ways: ``*_wait`` (the calling thread waits without the GIL),
``*_async`` (a concurrent.futures.Future resolved by the library's
completion callback on the worker thread) and ``*_aio`` (that future
wrapped for asyncio).

Lifetimes: one module-level ctypes callback (``_ON_RESPONSE``) serves every
client and lives as long as the interpreter, so the C library can never
call a freed trampoline. The C ``userdata`` is an integer token into
``_pending``; the entry is removed when the callback runs (the library
calls it exactly once per accepted call, at the latest when the client
closes) or at once when the call is refused. Nothing here references the
Client, so an outstanding call never keeps a client alive.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import itertools
import json
import logging
import os
import threading
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterable, Mapping,
                    NamedTuple, Optional, Tuple, Union)

from . import _lib
from .errors import (EREJECTED, InvalidArgument, Rejected, TelemetryError,
                     error_for)
from .feedback import Feedback, FeatureRequest, FeatureRequestPage, Vote

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Future

log = logging.getLogger("telemetry")

FEEDBACK_TYPES = {"issue": 1, "suggestion": 2, "rating": 3, "general": 4}

Parser = Callable[[Optional[Dict[str, Any]], bool], Any]
DoneCallback = Callable[["Future[Any]"], Any]


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


def _parse(body: Optional[str]) -> Optional[Dict[str, Any]]:
    if not body:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _failure(lib: ctypes.CDLL, rc: int, what: str, status: int,
             body: Optional[str]) -> TelemetryError:
    """The exception for a failed answer (rc != 0)."""
    text = lib.tlm_strerror(rc).decode()
    if rc == EREJECTED:
        return Rejected(text, status, body)
    return error_for(rc, "%s: %s" % (what, text))


class _Op(NamedTuple):
    what: str
    wait_fn: str        # name of the *_wait function
    async_fn: str       # name of the async function
    args: Tuple[Any, ...]
    parse: Parser


# --- the completion callback (worker thread) ------------------------------

class _Pending:
    __slots__ = ("future", "parse", "what", "lib")

    def __init__(self, future: "Future[Any]", parse: Parser, what: str,
                 lib: ctypes.CDLL) -> None:
        self.future = future
        self.parse = parse
        self.what = what
        self.lib = lib


# token -> the outstanding call. Inserted before the C call (its callback
# may run before the call returns), popped by the callback or at refusal.
# dict operations are atomic under the GIL.
_pending: Dict[int, _Pending] = {}
_tokens = itertools.count(1)


def pending_calls() -> int:
    """How many async calls (of every client) await their answer."""
    return len(_pending)


# Set while Python runs on a client's worker thread (inside one of the
# trampolines): a Client whose last reference goes there must not be freed
# there (tlm_client_free joins the worker). See Client.__del__.
_tls = threading.local()


class worker_scope:
    """Marks the current thread as running a library callback."""

    __slots__ = ()

    def __enter__(self) -> None:
        _tls.depth = getattr(_tls, "depth", 0) + 1

    def __exit__(self, *exc: Any) -> None:
        _tls.depth -= 1


def on_worker() -> bool:
    """True inside a library callback (on a client's worker thread)."""
    return getattr(_tls, "depth", 0) > 0


def _on_response(rc: int, resp: Any, ud: Optional[int]) -> None:
    # Runs on the client's worker thread, holding the GIL that ctypes took
    # for us; never lets an exception unwind into C. Every reference it
    # takes is dropped inside the scope: dropping the last one may free a
    # Client (through a done-callback's closure).
    with worker_scope():
        _complete(rc, resp, ud)


def _complete(rc: int, resp: Any, ud: Optional[int]) -> None:
    try:
        p = _pending.pop(ud or 0, None)
        if p is None:  # pragma: no cover - the library calls back once
            log.error("telemetry: an answer for an unknown call (%r)", ud)
            return
        r = resp.contents if resp else None
        status = r.status if r is not None else 0
        spooled = bool(r.spooled) if r is not None else False
        body = None
        if r is not None and r.body:
            body = ctypes.string_at(r.body, r.body_len).decode(
                "utf-8", "replace")
        try:
            if rc != 0:
                exc: Optional[BaseException] = _failure(
                    p.lib, rc, p.what, status, body)
            else:
                result = p.parse(_parse(body), spooled)
                exc = None
        except BaseException as e:  # a parser bug still resolves
            exc = e
        # set_* run the done callbacks here; concurrent.futures logs what
        # they raise.
        if exc is not None:
            p.future.set_exception(exc)
        else:
            p.future.set_result(result)
    except BaseException:  # pragma: no cover - never unwind into C
        log.exception("telemetry: completing an async call failed")


_ON_RESPONSE = _lib.RESPONSE_FN(_on_response)


def _forget_in_child() -> None:
    # A fork()ed child's library forgets the parent's outstanding calls
    # (they are the parent's to answer): forget their futures too.
    _pending.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


async def _aio(fut: "Future[Any]") -> Any:
    return await asyncio.wrap_future(fut, loop=asyncio.get_running_loop())


# --- the operations ----------------------------------------------------------

class FeedbackCalls:
    """The feedback and feature-request methods of Client (a mixin: it
    uses the client's ``_lib``, ``_h()`` and ``_err()``)."""

    _lib: ctypes.CDLL

    if TYPE_CHECKING:  # pragma: no cover
        def _h(self) -> int: ...
        def _err(self, rc: int, what: str) -> TelemetryError: ...

    # -- runners --

    def _run_wait(self, op: _Op, timeout: float) -> Any:
        reply = _lib.new_struct(_lib.TlmReply)
        try:
            fn = getattr(self._lib, op.wait_fn)
            rc = fn(self._h(), *op.args, _ms(timeout), ctypes.byref(reply))
            body = (ctypes.string_at(reply.body, reply.body_len)
                    .decode("utf-8", "replace") if reply.body else None)
            if rc != 0:
                raise _failure(self._lib, rc, op.what, reply.status, body)
            return op.parse(_parse(body), bool(reply.spooled))
        finally:
            self._lib.tlm_reply_free(ctypes.byref(reply))

    def _run_async(self, op: _Op,
                   callback: Optional[DoneCallback]) -> "Future[Any]":
        fut: "Future[Any]" = concurrent.futures.Future()
        # The request cannot be taken back: the future is running from
        # the start, so cancel() returns False.
        fut.set_running_or_notify_cancel()
        if callback is not None:
            fut.add_done_callback(callback)
        token = next(_tokens)
        _pending[token] = _Pending(fut, op.parse, op.what, self._lib)
        try:
            fn = getattr(self._lib, op.async_fn)
            rc = fn(self._h(), *op.args, _ON_RESPONSE, token)
        except BaseException:
            _pending.pop(token, None)
            raise
        if rc != 0:
            # Refused: the library will never call back.
            _pending.pop(token, None)
            raise self._err(rc, op.what)
        return fut

    # -- building the calls --

    @staticmethod
    def _op_submit_feedback(content: str, type: str, category, rating,
                            context, feature, endpoint, user_id, summary,
                            steps_to_reproduce, expected, actual) -> _Op:
        if type not in FEEDBACK_TYPES:
            raise InvalidArgument("type must be one of " +
                                  ", ".join(FEEDBACK_TYPES))
        f = _lib.new_struct(_lib.TlmFeedback)
        f.type = FEEDBACK_TYPES[type]
        f.content = _enc(content)
        f.category = _enc(category)
        f.rating = int(rating or 0)
        f.context_json = _json(context)
        f.feature = _enc(feature)
        f.endpoint = _enc(endpoint)
        f.user_id = _enc(user_id)
        f.summary = _enc(summary)
        f.steps_to_reproduce = _enc(steps_to_reproduce)
        f.expected = _enc(expected)
        f.actual = _enc(actual)
        return _Op("submit_feedback", "tlm_feedback_submit_wait",
                   "tlm_feedback_submit", (ctypes.byref(f),),
                   Feedback.from_json)

    @staticmethod
    def _op_get_feedback(id: str) -> _Op:
        return _Op("get_feedback", "tlm_feedback_get_wait",
                   "tlm_feedback_get", (_enc(id),),
                   lambda doc, _spooled: Feedback.from_json(doc))

    @staticmethod
    def _op_submit_feature_request(title, description, use_case,
                                   user_id) -> _Op:
        r = _lib.new_struct(_lib.TlmFeatureRequest)
        r.title = _enc(title)
        r.description = _enc(description)
        r.use_case = _enc(use_case)
        r.user_id = _enc(user_id)
        return _Op("submit_feature_request",
                   "tlm_feature_request_submit_wait",
                   "tlm_feature_request_submit", (ctypes.byref(r),),
                   FeatureRequest.from_json)

    @staticmethod
    def _op_feature_requests(sort, status, limit, cursor) -> _Op:
        q = _lib.new_struct(_lib.TlmFeatureQuery)
        q.sort = _enc(sort)
        if status is not None and not isinstance(status, str):
            status = ",".join(status)
        q.status = _enc(status)
        q.limit = int(limit)
        q.cursor = _enc(cursor)
        return _Op("feature_requests", "tlm_feature_requests_list_wait",
                   "tlm_feature_requests_list", (ctypes.byref(q),),
                   lambda doc, _spooled: FeatureRequestPage.from_json(doc))

    @staticmethod
    def _op_vote(id: str, user_id: str, on: bool) -> _Op:
        name = "vote" if on else "unvote"
        return _Op(name, "tlm_feature_request_%s_wait" % name,
                   "tlm_feature_request_%s" % name,
                   (_enc(id), _enc(user_id)), Vote.from_json)

    # -- blocking forms --

    def submit_feedback(self, content: str, type: str = "general", *,
                        category: Optional[str] = None,
                        rating: Optional[int] = None,
                        context: Optional[Mapping[str, Any]] = None,
                        feature: Optional[str] = None,
                        endpoint: Optional[str] = None,
                        user_id: Optional[str] = None,
                        summary: Optional[str] = None,
                        steps_to_reproduce: Optional[str] = None,
                        expected: Optional[str] = None,
                        actual: Optional[str] = None,
                        timeout: float = 10.0) -> Feedback:
        """Submits feedback (POST /feedback) and waits for the stored
        feedback. ``type``: "issue" (needs summary, steps_to_reproduce,
        expected, actual), "suggestion", "rating" (needs rating 1..5) or
        "general". Raises Rejected (4xx, e.g. a missing issue part),
        Unavailable, Timeout, Disabled, InvalidArgument."""
        return self._run_wait(self._op_submit_feedback(
            content, type, category, rating, context, feature, endpoint,
            user_id, summary, steps_to_reproduce, expected, actual),
            timeout)

    def get_feedback(self, id: str, timeout: float = 10.0) -> Feedback:
        """One feedback of the key's organization (GET /feedback/{id});
        Rejected with status 404 if there is none."""
        return self._run_wait(self._op_get_feedback(id), timeout)

    def submit_feature_request(self, title: str, *,
                               description: Optional[str] = None,
                               use_case: Optional[str] = None,
                               user_id: Optional[str] = None,
                               timeout: float = 10.0) -> FeatureRequest:
        """Submits a feature request (POST /feature-requests)."""
        return self._run_wait(self._op_submit_feature_request(
            title, description, use_case, user_id), timeout)

    def feature_requests(self, sort: Optional[str] = None,
                         status: Union[None, str, Iterable[str]] = None,
                         limit: int = 0, cursor: Optional[str] = None,
                         timeout: float = 10.0) -> FeatureRequestPage:
        """A page of feature requests (GET /feature-requests). ``sort``:
        "votes" (default), "recent" or "trending"; ``status``: one or
        several statuses; ``limit`` 1..100 (0: the server's 20);
        ``cursor``: the previous page's next_cursor."""
        return self._run_wait(self._op_feature_requests(
            sort, status, limit, cursor), timeout)

    def vote(self, id: str, user_id: str, timeout: float = 10.0) -> Vote:
        """Votes for a feature request for ``user_id`` (PUT
        /feature-requests/{id}/vote); voting again changes nothing."""
        return self._run_wait(self._op_vote(id, user_id, True), timeout)

    def unvote(self, id: str, user_id: str, timeout: float = 10.0) -> Vote:
        """Withdraws ``user_id``'s vote (DELETE .../vote)."""
        return self._run_wait(self._op_vote(id, user_id, False), timeout)

    # -- Future forms --

    def submit_feedback_async(self, content: str, type: str = "general", *,
                              category: Optional[str] = None,
                              rating: Optional[int] = None,
                              context: Optional[Mapping[str, Any]] = None,
                              feature: Optional[str] = None,
                              endpoint: Optional[str] = None,
                              user_id: Optional[str] = None,
                              summary: Optional[str] = None,
                              steps_to_reproduce: Optional[str] = None,
                              expected: Optional[str] = None,
                              actual: Optional[str] = None,
                              callback: Optional[DoneCallback] = None
                              ) -> "Future[Feedback]":
        """submit_feedback() without waiting: returns at once with a
        concurrent.futures.Future that resolves to the Feedback, or fails
        with the exception submit_feedback() would raise (Rejected,
        Unavailable; Timeout or ClientClosed when the client closed
        before the answer came). ``callback(future)``, if given, runs once
        the future is resolved, on the client's worker thread: keep it
        short and never wait in it. Errors found before anything is sent
        (InvalidArgument, ClientClosed, Disabled, QueueFull) are raised
        here and the callback never runs. The request cannot be
        cancelled; bound your wait with ``future.result(timeout)``."""
        return self._run_async(self._op_submit_feedback(
            content, type, category, rating, context, feature, endpoint,
            user_id, summary, steps_to_reproduce, expected, actual),
            callback)

    def get_feedback_async(self, id: str, *,
                           callback: Optional[DoneCallback] = None
                           ) -> "Future[Feedback]":
        """get_feedback() as a Future (see submit_feedback_async)."""
        return self._run_async(self._op_get_feedback(id), callback)

    def submit_feature_request_async(
            self, title: str, *, description: Optional[str] = None,
            use_case: Optional[str] = None, user_id: Optional[str] = None,
            callback: Optional[DoneCallback] = None
    ) -> "Future[FeatureRequest]":
        """submit_feature_request() as a Future (see
        submit_feedback_async)."""
        return self._run_async(self._op_submit_feature_request(
            title, description, use_case, user_id), callback)

    def feature_requests_async(
            self, sort: Optional[str] = None,
            status: Union[None, str, Iterable[str]] = None, limit: int = 0,
            cursor: Optional[str] = None, *,
            callback: Optional[DoneCallback] = None
    ) -> "Future[FeatureRequestPage]":
        """feature_requests() as a Future (see submit_feedback_async)."""
        return self._run_async(self._op_feature_requests(
            sort, status, limit, cursor), callback)

    def vote_async(self, id: str, user_id: str, *,
                   callback: Optional[DoneCallback] = None
                   ) -> "Future[Vote]":
        """vote() as a Future (see submit_feedback_async)."""
        return self._run_async(self._op_vote(id, user_id, True), callback)

    def unvote_async(self, id: str, user_id: str, *,
                     callback: Optional[DoneCallback] = None
                     ) -> "Future[Vote]":
        """unvote() as a Future (see submit_feedback_async)."""
        return self._run_async(self._op_vote(id, user_id, False), callback)

    # -- asyncio forms --

    async def submit_feedback_aio(self, content: str, type: str = "general",
                                  **fields: Any) -> Feedback:
        """``await``-able submit_feedback(): the Future of
        submit_feedback_async() wrapped with asyncio.wrap_future, so the
        event loop is never blocked (the answer reaches the loop through
        loop.call_soon_threadsafe). ``fields`` as submit_feedback's,
        without ``timeout``: use asyncio.wait_for (cancelling the await
        does not take the request back)."""
        return await _aio(self.submit_feedback_async(content, type,
                                                     **fields))

    async def get_feedback_aio(self, id: str) -> Feedback:
        """``await``-able get_feedback() (see submit_feedback_aio)."""
        return await _aio(self.get_feedback_async(id))

    async def submit_feature_request_aio(self, title: str,
                                         **fields: Any) -> FeatureRequest:
        """``await``-able submit_feature_request() (see
        submit_feedback_aio)."""
        return await _aio(self.submit_feature_request_async(title, **fields))

    async def feature_requests_aio(
            self, sort: Optional[str] = None,
            status: Union[None, str, Iterable[str]] = None, limit: int = 0,
            cursor: Optional[str] = None) -> FeatureRequestPage:
        """``await``-able feature_requests() (see submit_feedback_aio)."""
        return await _aio(self.feature_requests_async(sort, status, limit,
                                                      cursor))

    async def vote_aio(self, id: str, user_id: str) -> Vote:
        """``await``-able vote() (see submit_feedback_aio)."""
        return await _aio(self.vote_async(id, user_id))

    async def unvote_aio(self, id: str, user_id: str) -> Vote:
        """``await``-able unvote() (see submit_feedback_aio)."""
        return await _aio(self.unvote_async(id, user_id))
