/*
 * Fuzz target: the list route's query string parser.
 * The whole input is the raw query (without the '?').
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hotkey_args.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char          *bad;
    hotkey_list_args_t   a;

    bad = hotkey_list_args_parse((const char *) data, size, &a);

    if (bad == NULL) {
        /* a success must leave values inside the documented bounds */
        if (a.offset < 0 || a.offset > HOTKEY_OFFSET_MAX
            || a.limit < 1 || a.limit > HOTKEY_LIMIT_MAX
            || (a.status != HOTKEY_STATUS_ANY
                && hotkey_status_name(a.status) == NULL))
        {
            abort();
        }
    }

    return 0;
}
