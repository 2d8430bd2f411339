/*
 * A main() for the fuzz targets without libFuzzer: runs every file named
 * on the command line through LLVMFuzzerTestOneInput once, each in a heap
 * block of exactly its size.  Used by t/090-fuzz-regress.t with gcc (and
 * ASan/UBSan when available).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
main(int argc, char **argv)
{
    int      i;
    long     n;
    FILE    *f;
    uint8_t *buf;

    for (i = 1; i < argc; i++) {
        f = fopen(argv[i], "rb");
        if (f == NULL) {
            perror(argv[i]);
            return 2;
        }

        if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
            || fseek(f, 0, SEEK_SET) != 0)
        {
            perror(argv[i]);
            fclose(f);
            return 2;
        }

        buf = malloc(n ? (size_t) n : 1);
        if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            free(buf);
            fclose(f);
            return 2;
        }

        fclose(f);

        if (getenv("REPLAY_VERBOSE")) {
            fprintf(stderr, "replay: %s (%ld bytes)\n", argv[i], n);
        }

        LLVMFuzzerTestOneInput(buf, (size_t) n);
        free(buf);
    }

    printf("replayed %d inputs\n", argc - 1);

    return 0;
}
