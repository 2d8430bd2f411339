/* SHA-256 and HMAC-SHA256 against published vectors (FIPS 180-2, RFC 4231) */

#include "tap.h"
#include "hotkey_codec.h"
#include "hotkey_digest.h"


static const char *
hex(const unsigned char *md)
{
    static char  buf[2 * HOTKEY_SHA256_LEN + 1];

    hotkey_codec_hex(md, HOTKEY_SHA256_LEN, buf);

    return buf;
}


int
main(void)
{
    unsigned char  md[HOTKEY_SHA256_LEN], key[131];

    ok(hotkey_sha256("abc", 3, md) == 0, "sha256");
    is_str(hex(md), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61"
           "f20015ad", "sha256(abc)");
    ok(hotkey_sha256("", 0, md) == 0, "sha256 of nothing");
    is_str(hex(md), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
           "7852b855", "sha256()");

    memset(key, 0x0b, 20);
    ok(hotkey_hmac_sha256(key, 20, "Hi There", 8, md) == 0, "hmac");
    is_str(hex(md), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c"
           "2e32cff7", "RFC 4231 case 1");

    ok(hotkey_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, md)
       == 0, "hmac, short key");
    is_str(hex(md), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b9"
           "64ec3843", "RFC 4231 case 2");

    memset(key, 0xaa, sizeof(key));
    ok(hotkey_hmac_sha256(key, sizeof(key),
                          "Test Using Larger Than Block-Size Key - Hash Key "
                          "First", 54, md) == 0, "hmac, long key");
    is_str(hex(md), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f"
           "0ee37f54", "RFC 4231 case 6");

    return done_testing();
}
