#!/usr/bin/env python3
"""weather_cli.py [--base-url URL] [--api-key KEY] current CITY | forecast
CITY DAYS: the Python twin of weather-cli (same environment variables,
same exit status: 0 ok, 1 the call failed, 2 usage)."""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weather  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="weather_cli.py")
    ap.add_argument("--base-url", default=os.environ.get(
        "WEATHER_API_URL") or "https://api.weather.example")
    ap.add_argument("--api-key",
                    default=os.environ.get("WEATHER_API_KEY") or "demo-key")
    ap.add_argument("command", choices=["current", "forecast"])
    ap.add_argument("city")
    ap.add_argument("days", nargs="?", type=int)
    a = ap.parse_args(argv)
    if (a.command == "forecast") != (a.days is not None):
        ap.error("forecast takes CITY DAYS, current takes CITY")
    with weather.WeatherClient(a.base_url, a.api_key) as c:
        try:
            if a.command == "current":
                w = c.current(a.city)
                print("%s: %.1f C, %d%% humidity, %s" % (
                    w.city, w.temp_c, w.humidity, w.conditions))
            else:
                for d in c.forecast(a.city, a.days):
                    print("%s: %.1f .. %.1f C, %s" % (
                        d.date, d.low_c, d.high_c, d.conditions))
        except (weather.WeatherError, ValueError) as e:
            print("weather_cli.py: %s: %s" % (type(e).__name__, e),
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
