"""The Weather API client in Python (urllib.request only), instrumented
with the libtelemetry binding (``import telemetry``) the same way as the C
library: one request event per call with a templated endpoint
("GET /v1/current/{city}"), its status and latency; a 5xx answer or a
transport failure also records the error with its traceback. Opt out with
WEATHER_TELEMETRY=0 (or DO_NOT_TRACK=1)."""

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import List, Optional

try:
    import telemetry
except ImportError:  # telemetry is optional for the users of this client
    telemetry = None


# request_details keys allowed out: libtelemetry's defaults and "days".
DETAILS_KEYS = ("method,path,query_keys,content_length,content_type,"
                "retry_count,days")


class WeatherError(Exception):
    """Any failure of a Weather API call."""


class NotFound(WeatherError):
    """404: unknown city."""


class AuthError(WeatherError):
    """401/403: the API key was rejected."""


class ServerError(WeatherError):
    """5xx from the Weather API."""


class TransportError(WeatherError):
    """No HTTP answer (connection refused, timeout, ...)."""


@dataclass
class Current:
    city: str
    temp_c: float
    humidity: int
    conditions: str


@dataclass
class Day:
    date: str
    high_c: float
    low_c: float
    conditions: str


def _telemetry_off() -> bool:
    return os.environ.get("WEATHER_TELEMETRY", "") in ("0", "false", "off")


class _NoCall:
    status = None


class _NoTimer:
    def __enter__(self):
        return _NoCall()

    def __exit__(self, *exc):
        return False


class WeatherClient:
    """``WeatherClient(base_url, api_key)``; telemetry goes to
    ``telemetry_endpoint`` (default $WEATHER_TELEMETRY_ENDPOINT) with
    ``telemetry_api_key`` ($WEATHER_TELEMETRY_KEY); neither: none. Use it
    as a context manager, or call close(): that flushes the telemetry."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 10.0,
                 telemetry_endpoint: Optional[str] = None,
                 telemetry_api_key: Optional[str] = None,
                 send_telemetry: bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._tlm = None
        endpoint = telemetry_endpoint or \
            os.environ.get("WEATHER_TELEMETRY_ENDPOINT")
        key = telemetry_api_key or os.environ.get("WEATHER_TELEMETRY_KEY")
        if telemetry is not None and endpoint and key:
            try:
                self._tlm = telemetry.Client(
                    endpoint=endpoint, api_key=key, binding="weather-python",
                    details_allowlist=DETAILS_KEYS,
                    enabled=send_telemetry and not _telemetry_off())
            except telemetry.TelemetryError:
                self._tlm = None  # telemetry never breaks the client

    def __enter__(self) -> "WeatherClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._tlm is not None:
            self._tlm.close()
            self._tlm = None

    @property
    def telemetry_enabled(self) -> bool:
        return self._tlm is not None and self._tlm.enabled

    def _get(self, template: str, path: str, details=None):
        timer = _NoTimer() if self._tlm is None else self._tlm.timed(
            template, method="GET", request_details=details)
        req = urllib.request.Request(self.base_url + path,
                                     headers={"X-Api-Key": self.api_key})
        failure = None
        with timer as call:
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    call.status = r.status
                    return json.loads(r.read())
            except urllib.error.HTTPError as e:
                call.status = e.code
                if e.code >= 500:  # recorded with the request as an error
                    raise ServerError("HTTP %d" % e.code) from None
                failure = e.code  # 4xx: the caller's mistake, no error event
            except (urllib.error.URLError, OSError) as e:
                raise TransportError(str(e)) from e
        if failure in (401, 403):
            raise AuthError("HTTP %d" % failure)
        if failure == 404:
            raise NotFound("unknown city")
        raise WeatherError("HTTP %d" % failure)

    def current(self, city: str) -> Current:
        doc = self._get("GET /v1/current/{city}",
                        "/v1/current/" + urllib.parse.quote(city, safe=""))
        return Current(doc["city"], float(doc["temp_c"]),
                       int(doc["humidity"]), doc["conditions"])

    def forecast(self, city: str, days: int) -> List[Day]:
        if not 1 <= days <= 14:
            raise ValueError("days must be 1..14")
        doc = self._get("GET /v1/forecast/{city}",
                        "/v1/forecast/%s?days=%d" % (
                            urllib.parse.quote(city, safe=""), days),
                        details={"days": days})
        return [Day(d["date"], float(d["high_c"]), float(d["low_c"]),
                    d["conditions"]) for d in doc["days"]]
