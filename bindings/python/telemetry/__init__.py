"""telemetry: the Python binding of libtelemetry (ctypes, pure Python).

    import telemetry

    with telemetry.Client(endpoint="http://127.0.0.1:8080",
                          api_key="...") as client:
        client.track_request("GET /v1/items/{id}", 200, 12.5,
                             method="GET", user_id="user-42")
        with client.timed("GET /v1/items/{id}") as call:
            call.status = 404

docs/python.md describes the API, threads and fork(), the callbacks and
the GIL, and where the shared library is looked for.
"""

from ._lib import SEARCH_ORDER, load_library
from .client import Call, Client, Event, Stats, Timer
from .errors import (ClientClosed, ConfigError, Disabled, InvalidArgument,
                     LibraryNotFoundError, OutOfMemory, QueueFull, Rejected,
                     TelemetryError, TelemetryIOError, ThreadError, Timeout,
                     TransportError, Unavailable)
from .feedback import Feedback, FeatureRequest, FeatureRequestPage, Vote

__version__ = "0.1.0"


def library_version(path=None) -> str:
    """The version of the libtelemetry that load_library(path) finds."""
    return load_library(path).tlm_version().decode()


__all__ = [
    "Call", "Client", "ClientClosed", "ConfigError", "Disabled", "Event",
    "FeatureRequest", "FeatureRequestPage", "Feedback", "InvalidArgument",
    "LibraryNotFoundError", "OutOfMemory", "QueueFull", "Rejected",
    "SEARCH_ORDER", "Stats", "TelemetryError", "TelemetryIOError",
    "ThreadError", "Timeout", "Timer", "TransportError", "Unavailable",
    "Vote", "library_version", "load_library",
]
