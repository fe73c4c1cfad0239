/* `telemetry-server keys ...`: the key management subcommand. */
#ifndef TLM_SERVER_KEYS_CMD_H
#define TLM_SERVER_KEYS_CMD_H

/* Runs "keys SUBCOMMAND [ARGS]" (argv[0] is "keys"). Returns the process
 * exit status: 0 done, 1 failed, 2 usage error. */
int tlm__keys_main(int argc, char **argv);

#endif
