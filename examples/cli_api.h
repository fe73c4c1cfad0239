/*
 * cli_api.h - telemetry-cli's feedback and feature-request commands
 * (cli_api.c): parsing their options and running them.
 */
#ifndef CLI_API_H
#define CLI_API_H

#include <getopt.h>
#include <stdint.h>

#include "telemetry.h"

/* telemetry-cli's exit statuses. */
#define EXIT_OK 0
#define EXIT_LOST 1 /* not delivered, a bad line or a lost event */
#define EXIT_USAGE 2
#define EXIT_REFUSED 3 /* the server answered 4xx */

struct api_args {
    int json;
    int withdraw;
    const char *type;
    const char *content;
    const char *category;
    const char *rating;
    const char *feature;
    const char *target_endpoint;
    const char *context;
    const char *summary;
    const char *steps;
    const char *expected;
    const char *actual;
    const char *user;
    const char *title;
    const char *description;
    const char *use_case;
    const char *sort;
    const char *status;
    const char *limit;
    const char *cursor;
    const char *id;
};

struct api_command {
    const char *name;
    const char *synopsis;
    const char *help;
    const struct option *options;
};

/* The command named `name`, or NULL if it is not one of these. */
const struct api_command *find_api_command(const char *name);

/* Parses the command's own options (argv[0] is its name) into *p.
 * Returns -1 to run it, else the exit status (--help, bad usage). */
int api_parse(
    const struct api_command *cmd, int argc, char **argv, struct api_args *p);

/* Runs the command on c (closed afterwards) and prints the answer;
 * returns the exit status. */
int cmd_api(tlm_client *c, const struct api_command *cmd,
    const struct api_args *p, uint32_t timeout_ms);

#endif /* CLI_API_H */
