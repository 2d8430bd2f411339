/*
 * Redis Cluster, the parts that are plain C: the slot of a key (CRC16 as
 * Redis defines it, with hash tags), MOVED and ASK replies, and a slot
 * map read from CLUSTER SLOTS.  The module, hotkeyctl and the analyzer
 * share it.
 */

#ifndef HOTKEY_CLUSTER_H
#define HOTKEY_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#define HOTKEY_CLUSTER_SLOTS     16384
#define HOTKEY_CLUSTER_NODES     64         /* masters a map can name */
#define HOTKEY_CLUSTER_ADDR_LEN  64         /* "host:port", NUL included */
#define HOTKEY_CLUSTER_NONE      0xff       /* a slot with no master */

/* the slot of a key: of its hash tag when it has a non-empty one */
unsigned hotkey_cluster_slot(const char *key, size_t len);

/* the slot of every key of an instance, "hotkey:{<iid>}:..." */
unsigned hotkey_cluster_instance_slot(const char *iid, size_t len);

typedef enum {
    HOTKEY_REDIRECT_NONE = 0,
    HOTKEY_REDIRECT_MOVED,          /* the slot lives there now */
    HOTKEY_REDIRECT_ASK,            /* this once, with ASKING first */
    HOTKEY_REDIRECT_TRYAGAIN,       /* a slot half-migrated: later */
    HOTKEY_REDIRECT_DOWN            /* CLUSTERDOWN: no master for it */
} hotkey_redirect_e;

typedef struct {
    hotkey_redirect_e    type;
    unsigned             slot;
    char                 host[HOTKEY_CLUSTER_ADDR_LEN];  /* "" the same */
    unsigned             port;
} hotkey_redirect_t;

/*
 * Reads an error reply's text (without the leading '-').  A MOVED or ASK
 * whose address does not parse is HOTKEY_REDIRECT_NONE: a bad reply.
 */
hotkey_redirect_e hotkey_cluster_redirect(const char *str, size_t len,
    hotkey_redirect_t *rd);

/* the masters of the slots: nodes[slots[s]], or HOTKEY_CLUSTER_NONE */
typedef struct {
    unsigned             nnodes;
    struct {
        char             host[HOTKEY_CLUSTER_ADDR_LEN];
        unsigned         port;
    }                    nodes[HOTKEY_CLUSTER_NODES];
    uint8_t              slots[HOTKEY_CLUSTER_SLOTS];
} hotkey_cluster_map_t;

void hotkey_cluster_map_init(hotkey_cluster_map_t *m);

/*
 * The node index of host:port in the map, added when new; -1 when the
 * map is full or the host too long.
 */
int hotkey_cluster_map_node(hotkey_cluster_map_t *m, const char *host,
    size_t host_len, unsigned port);

/*
 * Fills the map from a CLUSTER SLOTS reply; an empty host in the reply
 * (a node that does not know its own address) is "from".  0, or -1 when
 * the reply is not one (the map is then in no particular state).
 */
int hotkey_cluster_map_read(hotkey_cluster_map_t *m, const redisReply *r,
    const char *from);

/* "host:port" (IPv6 hosts in brackets) into buf; the length */
size_t hotkey_cluster_addr(char *buf, size_t size, const char *host,
    unsigned port);

#endif
