/* The `server` section of the JSON configuration document (--config FILE).
 * Must never abort on a key it does not know (it reports it on stderr) and
 * never accept a bad value (it names the key). */
#ifndef TLM_SERVER_CONFIG_FILE_H
#define TLM_SERVER_CONFIG_FILE_H

#include "config.h"

#include <stddef.h>

/* Applies path's `server` section onto c. Returns 0 or -1 with err set. */
int tlm__config_file_apply(
    struct tlm__server_config *c, const char *path, char *err, size_t err_size);

#endif
