/*
 * weather-cli.c - the Weather API from the shell, on libweather:
 *
 *   weather-cli [--base-url URL] [--api-key KEY] current CITY
 *   weather-cli [--base-url URL] [--api-key KEY] forecast CITY DAYS
 *
 * URL and KEY default to $WEATHER_API_URL and $WEATHER_API_KEY. Telemetry
 * goes to $WEATHER_TELEMETRY_ENDPOINT with $WEATHER_TELEMETRY_KEY unless
 * WEATHER_TELEMETRY=0. Exit status: 0 ok, 1 the call failed, 2 usage.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weather.h"

static int
usage(FILE *f)
{
    fprintf(f,
        "usage: weather-cli [--base-url URL] [--api-key KEY] "
        "current CITY | forecast CITY DAYS\n");
    return f == stdout ? 0 : 2;
}

static int
run(weather_client *c, int argc, char **argv)
{
    int rc;
    if (!strcmp(argv[0], "current") && argc == 2) {
        struct weather_current w;
        rc = weather_current(c, argv[1], &w);
        if (rc == WEATHER_OK)
            printf("%s: %.1f C, %d%% humidity, %s\n", w.city, w.temp_c,
                w.humidity, w.conditions);
    } else if (!strcmp(argv[0], "forecast") && argc == 3) {
        char *end;
        long days = strtol(argv[2], &end, 10);
        if (*end || end == argv[2] || days < 1 || days > WEATHER_MAX_DAYS) {
            fprintf(
                stderr, "weather-cli: DAYS must be 1..%d\n", WEATHER_MAX_DAYS);
            return 2;
        }
        struct weather_day d[WEATHER_MAX_DAYS];
        size_t n = 0;
        rc = weather_forecast(c, argv[1], (int)days, d, WEATHER_MAX_DAYS, &n);
        for (size_t i = 0; rc == WEATHER_OK && i < n; i++)
            printf("%s: %.1f .. %.1f C, %s\n", d[i].date, d[i].low_c,
                d[i].high_c, d[i].conditions);
    } else {
        return usage(stderr);
    }
    if (rc != WEATHER_OK) {
        fprintf(stderr, "weather-cli: %s (%s)\n", weather_strerror(rc),
            weather_last_error(c));
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    const char *base_url = getenv("WEATHER_API_URL");
    const char *api_key = getenv("WEATHER_API_KEY");
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        if (!strcmp(argv[i], "--help"))
            return usage(stdout);
        if (i + 1 >= argc)
            return usage(stderr);
        if (!strcmp(argv[i], "--base-url"))
            base_url = argv[++i];
        else if (!strcmp(argv[i], "--api-key"))
            api_key = argv[++i];
        else
            return usage(stderr);
    }
    if (i >= argc)
        return usage(stderr);
    if (!base_url || !*base_url)
        base_url = "https://api.weather.example";
    if (!api_key || !*api_key)
        api_key = "demo-key";
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    weather_client *c = weather_client_new(base_url, api_key, NULL);
    if (!c) {
        fprintf(stderr, "weather-cli: cannot create the client\n");
        curl_global_cleanup();
        return 1;
    }
    int rc = run(c, argc - i, argv + i);
    weather_client_free(c); /* flushes the telemetry */
    curl_global_cleanup();
    return rc;
}
