/* The tools' store client: its addresses, and a store that is not there */

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "hotkey_store_client.h"


int
main(void)
{
    hotkey_sc_t  *sc;

    sc = malloc(sizeof(hotkey_sc_t));

    ok(hotkey_sc_init(sc, "127.0.0.1:6379", 100, 100) == 0, "one node");
    is_int(sc->nnodes, 1, "... known");
    is_int(sc->cluster, -1, "... a cluster or not: not known yet");
    hotkey_sc_close(sc);

    ok(hotkey_sc_init(sc, "10.0.0.1:7000,10.0.0.2:7001,[::1]:7002", 100,
                      100) == 0, "three nodes, one IPv6");
    is_int(sc->nnodes, 3, "... known");
    is_str(sc->nodes[2].addr, "[::1]:7002", "... as given");
    is_str(hotkey_sc_addr(sc, 1), "10.0.0.2:7001", "... by index");
    is_str(hotkey_sc_addr(sc, 3), "-", "... none past them");
    hotkey_sc_close(sc);

    ok(hotkey_sc_init(sc, "10.0.0.1:7000,10.0.0.1:7000", 100, 100) == 0,
       "a node twice");
    is_int(sc->nnodes, 1, "... known once");
    hotkey_sc_close(sc);

    ok(hotkey_sc_init(sc, "unix:/run/redis.sock", 100, 100) == 0,
       "a unix socket");
    hotkey_sc_close(sc);

    ok(hotkey_sc_init(sc, "", 100, 100) == -1, "no address: refused");
    ok(hotkey_sc_init(sc, "redis", 100, 100) == -1, "no port: refused");
    ok(strstr(sc->err, "\"redis\"") != NULL, "... the error names it");
    ok(hotkey_sc_init(sc, "h:0", 100, 100) == -1, "port 0: refused");
    ok(hotkey_sc_init(sc, "h:65536", 100, 100) == -1, "port 65536: refused");
    ok(hotkey_sc_init(sc, "h:1x", 100, 100) == -1, "a bad port: refused");
    ok(hotkey_sc_init(sc, "h:1,,h:2", 100, 100) == -1,
       "an empty address in the list: refused");
    ok(hotkey_sc_init(sc, "unix:", 100, 100) == -1, "unix: without a path");

    /* port 1 of loopback: nothing listens there */
    ok(hotkey_sc_init(sc, "127.0.0.1:1", 200, 200) == 0, "a closed port");
    ok(hotkey_sc_open(sc) == -1, "... cannot be opened");
    ok(strncmp(sc->err, "127.0.0.1:1: ", 13) == 0, "... the error names it");
    ok(hotkey_sc_command(sc, "k", "GET k") == NULL, "... a command fails");
    ok(strstr(sc->err, "a moment ago") != NULL,
       "... at once: the node refused a moment ago");
    is_int(hotkey_sc_masters(sc), 0, "... no masters");
    hotkey_sc_close(sc);

    free(sc);
    return done_testing();
}
