/* SPDX-License-Identifier: MIT */
/*
 * Runs a libFuzzer target's LLVMFuzzerTestOneInput over every file of one directory, for builds
 * without libFuzzer (gcc) and for ctest: each crash the fuzzers ever found stays a test. Every
 * input is read into a buffer of exactly its size, so the sanitizers see a read past its end.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* reads path into a malloc'ed buffer of exactly its size; returns 0 or -errno */
static int read_file(const char *path, uint8_t **ret_data, size_t *ret_size)
{
        struct stat st;
        uint8_t *data;
        FILE *f;
        int r = 0;

        f = fopen(path, "rbe");
        if (!f)
                return -errno;
        if (fstat(fileno(f), &st) < 0) {
                r = -errno;
                fclose(f);
                return r;
        }
        data = malloc(st.st_size ? st.st_size : 1);
        if (!data) {
                fclose(f);
                return -ENOMEM;
        }
        if (st.st_size && fread(data, 1, st.st_size, f) != (size_t)st.st_size)
                r = -EIO;
        fclose(f);
        if (r < 0) {
                free(data);
                return r;
        }
        *ret_data = data;
        *ret_size = st.st_size;
        return 0;
}

int main(int argc, char **argv)
{
        struct dirent *de;
        size_t n = 0;
        DIR *dir;

        if (argc != 2) {
                fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
                return 2;
        }
        dir = opendir(argv[1]);
        if (!dir) {
                fprintf(stderr, "replay: opendir \"%s\": %s\n", argv[1], strerror(errno));
                return 1;
        }
        while ((de = readdir(dir))) {
                char path[4096];
                uint8_t *data = NULL;
                size_t size = 0;
                struct stat st;
                int r;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                r = read_file(path, &data, &size);
                if (r < 0) {
                        fprintf(stderr, "replay: read \"%s\": %s\n", path, strerror(-r));
                        closedir(dir);
                        return 1;
                }
                LLVMFuzzerTestOneInput(data, size);
                free(data);
                n++;
        }
        closedir(dir);
        printf("replay: ran %zu inputs from %s\n", n, argv[1]);
        return 0;
}
