/* JSON output helpers over cJSON. Stateless; every returned string is the
 * caller's and is released with free() (cJSON uses the default allocator). */
#include "json_util.h"

#include <math.h>

char *
tlm__json_error_body(const char *msg)
{
    cJSON *root = cJSON_CreateObject();
    if (root == NULL || cJSON_AddStringToObject(root, "error", msg) == NULL) {
        cJSON_Delete(root);
        return NULL;
    }
    return tlm__json_finish(root);
}

char *
tlm__json_finish(cJSON *root)
{
    char *text = NULL;
    if (root != NULL)
        text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

double
tlm__json_round_count(double weighted)
{
    return weighted > 0 ? floor(weighted + 0.5) : 0;
}
