"""Dataclasses of the server's feedback and feature-request answers.

Each is built from the JSON body the server answered (docs/http-api.md,
"Feedback and feature requests"); fields the server did not send are None,
and the whole parsed answer stays available as ``raw``. A submission the
library could not deliver yet but kept in its spool (a spool directory is
configured and the server was unreachable) comes back with ``spooled``
True and no server fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional, Type, TypeVar

T = TypeVar("T")


def _build(cls: Type[T], doc: Optional[Dict[str, Any]], **extra: Any) -> T:
    doc = doc or {}
    names = {f.name for f in fields(cls)} - {"raw", "spooled"}  # type: ignore
    kw = {n: doc.get(n) for n in names if n in doc}
    kw.update(extra)
    return cls(raw=doc, **kw)  # type: ignore[call-arg]


@dataclass
class Feedback:
    """One stored feedback (POST /feedback, GET /feedback/{id})."""

    id: Optional[str] = None
    feedback_type: Optional[str] = None
    content: Optional[str] = None
    category: Optional[str] = None
    category_source: Optional[str] = None
    sentiment: Optional[float] = None
    sentiment_label: Optional[str] = None
    rating: Optional[int] = None
    feature: Optional[str] = None
    endpoint: Optional[str] = None
    context: Optional[Dict[str, Any]] = None
    issue: Optional[Dict[str, Any]] = None
    user_id: Optional[str] = None
    organization: Optional[str] = None
    environment: Optional[str] = None
    created_at: Optional[str] = None
    spooled: bool = False
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, doc: Optional[Dict[str, Any]],
                  spooled: bool = False) -> "Feedback":
        return _build(cls, doc, spooled=spooled)


@dataclass
class FeatureRequest:
    """One feature request (its submission, or an item of a list)."""

    id: Optional[str] = None
    title: Optional[str] = None
    description: Optional[str] = None
    use_case: Optional[str] = None
    status: Optional[str] = None
    votes: Optional[int] = None
    recent_votes: Optional[int] = None
    comments: Optional[int] = None
    voting_open: Optional[bool] = None
    merged_into: Optional[str] = None
    organization: Optional[str] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    status_history: Optional[List[Dict[str, Any]]] = None
    spooled: bool = False
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, doc: Optional[Dict[str, Any]],
                  spooled: bool = False) -> "FeatureRequest":
        return _build(cls, doc, spooled=spooled)


@dataclass
class FeatureRequestPage:
    """A page of GET /feature-requests: pass ``next_cursor`` back as
    ``cursor`` for the next one (None on the last page)."""

    items: List[FeatureRequest] = field(default_factory=list)
    next_cursor: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, doc: Optional[Dict[str, Any]]) -> "FeatureRequestPage":
        doc = doc or {}
        items = [FeatureRequest.from_json(i) for i in doc.get("items") or []
                 if isinstance(i, dict)]
        return cls(items=items, next_cursor=doc.get("next_cursor"), raw=doc)


@dataclass
class Vote:
    """The answer to a vote or its withdrawal: the feature request's id
    (the target's, for a request merged into another), its vote count,
    and whether the user's vote now stands."""

    id: Optional[str] = None
    votes: Optional[int] = None
    voted: Optional[bool] = None
    spooled: bool = False
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, doc: Optional[Dict[str, Any]],
                  spooled: bool = False) -> "Vote":
        return _build(cls, doc, spooled=spooled)
