/* Redis Cluster: key slots, redirects, the slot map */

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "hotkey_cluster.h"
#include "hotkey_store.h"
#include "reply.h"


#define S(s)  s, sizeof(s) - 1

int
main(void)
{
    redisReply            *r;
    hotkey_redirect_t      rd;
    hotkey_cluster_map_t  *m;
    char                   buf[80];

    /* the values redis-cli CLUSTER KEYSLOT gives */
    is_int(hotkey_cluster_slot(S("foo")), 12182, "slot of foo");
    is_int(hotkey_cluster_slot(S("123456789")), 12739, "crc16 check value");
    is_int(hotkey_cluster_slot(S("{user1000}.following")),
           hotkey_cluster_slot(S("user1000")), "hash tag");
    is_int(hotkey_cluster_slot(S("foo{}{bar}")),
           hotkey_cluster_slot(S("foo{}{bar}")), "empty tag: whole key");
    is_int(hotkey_cluster_slot(S("foo{}{bar}")), 8363, "empty tag value");
    is_int(hotkey_cluster_slot(S("foo{{bar}}zap")),
           hotkey_cluster_slot(S("{bar")), "tag up to first close");
    is_int(hotkey_cluster_slot(S("hotkey:{abc}:instance")),
           hotkey_cluster_instance_slot(S("abc")), "instance slot");
    is_int(hotkey_cluster_slot(S("")), 0, "empty key");

    is_int(hotkey_cluster_redirect(S("MOVED 3999 127.0.0.1:6381"), &rd),
           HOTKEY_REDIRECT_MOVED, "MOVED");
    is_int(rd.slot, 3999, "MOVED slot");
    is_str(rd.host, "127.0.0.1", "MOVED host");
    is_int(rd.port, 6381, "MOVED port");
    is_int(hotkey_cluster_redirect(S("ASK 1 [::1]:7000"), &rd),
           HOTKEY_REDIRECT_ASK, "ASK v6");
    is_str(rd.host, "::1", "ASK v6 host");
    is_int(hotkey_cluster_redirect(S("ASK 1 ::1:7000"), &rd),
           HOTKEY_REDIRECT_ASK, "ASK bare v6");
    is_str(rd.host, "::1", "bare v6 host");
    is_int(hotkey_cluster_redirect(S("MOVED 5 :6380"), &rd),
           HOTKEY_REDIRECT_MOVED, "MOVED to the same host");
    is_str(rd.host, "", "same host is empty");
    is_int(hotkey_cluster_redirect(S("MOVED 16384 a:1"), &rd),
           HOTKEY_REDIRECT_NONE, "slot out of range");
    is_int(hotkey_cluster_redirect(S("MOVED 1 a:0"), &rd),
           HOTKEY_REDIRECT_NONE, "port 0");
    is_int(hotkey_cluster_redirect(S("MOVED 1 a:65536"), &rd),
           HOTKEY_REDIRECT_NONE, "port too big");
    is_int(hotkey_cluster_redirect(S("MOVED 1 a"), &rd),
           HOTKEY_REDIRECT_NONE, "no port");
    is_int(hotkey_cluster_redirect(S("MOVED 1 a b:1"), &rd),
           HOTKEY_REDIRECT_NONE, "space in host");
    is_int(hotkey_cluster_redirect(S("MOVED  a:1"), &rd),
           HOTKEY_REDIRECT_NONE, "no slot");
    is_int(hotkey_cluster_redirect(S("MOVED 99999999999999999999 a:1"), &rd),
           HOTKEY_REDIRECT_NONE, "huge slot");
    memset(buf, 'h', sizeof(buf));
    memcpy(buf, "MOVED 1 ", 8);
    memcpy(buf + 76, ":80", 3);
    is_int(hotkey_cluster_redirect(buf, 79, &rd), HOTKEY_REDIRECT_NONE,
           "host too long");
    is_int(hotkey_cluster_redirect(S("TRYAGAIN Multiple keys"), &rd),
           HOTKEY_REDIRECT_TRYAGAIN, "TRYAGAIN");
    is_int(hotkey_cluster_redirect(S("CLUSTERDOWN The cluster is down"), &rd),
           HOTKEY_REDIRECT_DOWN, "CLUSTERDOWN");
    is_int(hotkey_cluster_redirect(S("ERR Error running script: Script "
                                     "attempted to access a non local key "
                                     "in a cluster node"), &rd),
           HOTKEY_REDIRECT_TRYAGAIN, "a script's key mid-migration");
    is_int(hotkey_cluster_redirect(S("ERR MOVED 1 a:1"), &rd),
           HOTKEY_REDIRECT_NONE, "other error");

    m = malloc(sizeof(*m));

    r = reply("*2\r\n"
              "*4\r\n:0\r\n:8191\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n"
              "$2\r\nid\r\n*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$2\r\nid\r\n"
              "*3\r\n:8192\r\n:16383\r\n*2\r\n$0\r\n\r\n:7001\r\n");
    is_int(hotkey_cluster_map_read(m, r, "10.0.0.1"), 0, "CLUSTER SLOTS");
    is_int(m->nnodes, 2, "two masters");
    is_int(m->slots[0], 0, "slot 0");
    is_int(m->slots[8191], 0, "slot 8191");
    is_int(m->slots[8192], 1, "slot 8192");
    is_str(m->nodes[1].host, "10.0.0.1", "empty host is the node asked");
    is_int(m->nodes[0].port, 7000, "master port, not the replica's");
    freeReplyObject(r);

    r = reply("*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n$1\r\na\r\n:7000\r\n");
    is_int(hotkey_cluster_map_read(m, r, "x"), 0, "partial map");
    is_int(m->slots[6], HOTKEY_CLUSTER_NONE, "uncovered slot has no node");
    freeReplyObject(r);

    r = reply("*1\r\n*3\r\n:5\r\n:4\r\n*2\r\n$1\r\na\r\n:7000\r\n");
    is_int(hotkey_cluster_map_read(m, r, "x"), -1, "end before start");
    freeReplyObject(r);

    r = reply("*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\na\r\n:7000\r\n");
    is_int(hotkey_cluster_map_read(m, r, "x"), -1, "slot past the end");
    freeReplyObject(r);

    r = reply("*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\na\r\n:0\r\n");
    is_int(hotkey_cluster_map_read(m, r, "x"), -1, "port 0 in map");
    freeReplyObject(r);

    r = reply("-ERR This instance has cluster support disabled\r\n");
    is_int(hotkey_cluster_map_read(m, r, "x"), -1, "not a cluster");
    freeReplyObject(r);

    hotkey_cluster_map_init(m);
    is_int(hotkey_cluster_map_node(m, S("a"), 1), 0, "node a");
    is_int(hotkey_cluster_map_node(m, S("a"), 2), 1, "other port");
    is_int(hotkey_cluster_map_node(m, S("a"), 1), 0, "same node again");
    is_int(hotkey_cluster_map_node(m, S("ab"), 1), 2, "longer host");

    for (int i = 3; i < HOTKEY_CLUSTER_NODES; i++) {
        hotkey_cluster_map_node(m, S("n"), 1000 + i);
    }

    is_int(hotkey_cluster_map_node(m, S("z"), 1), -1, "full map");

    hotkey_cluster_addr(buf, sizeof(buf), "::1", 7000);
    is_str(buf, "[::1]:7000", "v6 address");
    hotkey_cluster_addr(buf, sizeof(buf), "h", 1);
    is_str(buf, "h:1", "v4 address");

    free(m);

    return done_testing();
}
