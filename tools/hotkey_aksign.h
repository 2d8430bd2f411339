/*
 * AK/SK signing in every scheme, for hotkeyctl and the tests (the
 * gateway only verifies; the asymmetric signers live here, outside the
 * module's sources).
 */

#ifndef HOTKEY_AKSIGN_H
#define HOTKEY_AKSIGN_H

#include <stddef.h>

#include "hotkey_akscheme.h"

/* hex digits of the longest signature, with its NUL */
#define HOTKEY_AKSIGN_MAX  (2 * 72 + 1)

/*
 * The Signature of the StringToSign made from date, scope (V11 only)
 * and the canonical request: hex into sig[HOTKEY_AKSIGN_MAX].  SM2 signs
 * with the Z of GB/T 32918, or, with za_minimal, the Z of the Python SDK
 * core (coordinates without leading zero bytes).  0 or -1.
 */
int hotkey_aksign(hotkey_aksk_scheme_e s, const char *ak, size_t ak_len,
    const char *sk, size_t sk_len, const char *date, size_t date_len,
    const char *scope, size_t scope_len, const char *canonical,
    size_t canonical_len, int za_minimal, char *sig);

#endif
