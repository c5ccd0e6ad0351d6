/* SPDX-License-Identifier: MIT */
/*
 * worker/util/fileio.c: whole-file copies whatever the source's position (a file, a memory file; a
 * pipe is refused), and bringing a file into the page cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker/util/fileio.h"

#define MIB (1u << 20)

/* A file of n bytes (byte i is i * 7 mod 251) on disk, unlinked; position at its end. */
static int disk_file(size_t n)
{
        char path[] = "/var/tmp/gavel-test-fileio-XXXXXX";
        unsigned char *buf = malloc(n ? n : 1);
        int fd = mkstemp(path);

        assert_non_null(buf);
        assert_true(fd >= 0);
        unlink(path);
        for (size_t i = 0; i < n; i++)
                buf[i] = (unsigned char)(i * 7 % 251);
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
        free(buf);
        return fd;
}

static void assert_same_content(int a, int b, size_t n)
{
        unsigned char *x = malloc(n + 1), *y = malloc(n + 1);

        assert_non_null(x);
        assert_non_null(y);
        assert_int_equal(pread(a, x, n + 1, 0), (ssize_t)n);
        assert_int_equal(pread(b, y, n + 1, 0), (ssize_t)n);
        assert_memory_equal(x, y, n);
        free(x);
        free(y);
}

static void test_fileio_copy_reads_from_offset_zero_and_keeps_the_position(void **state)
{
        int src = disk_file(3 * MIB + 17), dst = memfd_create("dst", MFD_CLOEXEC);
        struct gv_err err = {0};
        uint64_t len = 0;

        (void)state;
        assert_int_equal(lseek(src, 1000, SEEK_SET), 1000);
        assert_int_equal(fileio_copy(dst, src, &len, &err), 0);
        assert_int_equal(len, 3 * MIB + 17);
        assert_int_equal(lseek(src, 0, SEEK_CUR), 1000);
        assert_same_content(src, dst, 3 * MIB + 17);
        close(src);
        close(dst);
}

static void test_fileio_copy_of_an_empty_file_is_empty(void **state)
{
        int src = disk_file(0), dst = memfd_create("dst", MFD_CLOEXEC);
        struct gv_err err = {0};
        uint64_t len = 1;

        (void)state;
        assert_int_equal(fileio_copy(dst, src, &len, &err), 0);
        assert_int_equal(len, 0);
        assert_int_equal(lseek(dst, 0, SEEK_END), 0);
        close(src);
        close(dst);
}

static void test_fileio_copy_from_a_pipe_is_refused(void **state)
{
        int p[2], dst = memfd_create("dst", MFD_CLOEXEC);
        struct gv_err err = {0};

        (void)state;
        assert_int_equal(pipe(p), 0);
        assert_int_equal(write(p[1], "hello\n", 6), 6);
        /* a pipe has no offset 0 to read from: an error with a message, nothing written */
        assert_int_equal(fileio_copy(dst, p[0], NULL, &err), -ESPIPE);
        assert_non_null(strstr(err.msg, "copy"));
        assert_int_equal(lseek(dst, 0, SEEK_END), 0);
        close(p[0]);
        close(p[1]);
        close(dst);
}

static void test_fileio_copy_to_a_read_only_descriptor_is_an_error(void **state)
{
        int src = disk_file(100), dst = open("/dev/null", O_RDONLY | O_CLOEXEC);
        struct gv_err err = {0};

        (void)state;
        assert_true(fileio_copy(dst, src, NULL, &err) < 0);
        assert_non_null(strstr(err.msg, "copy"));
        close(src);
        close(dst);
}

/* How many of the file's pages are in the page cache. */
static size_t resident_pages(int fd, size_t len)
{
        size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (len + page - 1) / page, in = 0;
        unsigned char *vec = malloc(n);
        void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);

        assert_non_null(vec);
        assert_true(p != MAP_FAILED);
        assert_int_equal(mincore(p, len, vec), 0);
        for (size_t i = 0; i < n; i++)
                in += vec[i] & 1;
        munmap(p, len);
        free(vec);
        return in;
}

static void test_fileio_cache_in_brings_all_of_an_evicted_file_back(void **state)
{
        size_t len = 24 * MIB, pages = len / (size_t)sysconf(_SC_PAGESIZE);
        int fd = disk_file(len);

        (void)state;
        assert_int_equal(fsync(fd), 0);
        assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
        assert_true(resident_pages(fd, len) < pages / 2); /* evicted, or the test proves nothing */
        assert_int_equal(fileio_cache_in(fd), 0);
        assert_int_equal(resident_pages(fd, len), pages);
        /* and again, when all is there: nothing to do */
        assert_int_equal(fileio_cache_in(fd), 0);
        close(fd);
}

static void test_fileio_cache_in_accepts_empty_files_memory_files_and_pipes(void **state)
{
        int empty = disk_file(0), mem = memfd_create("m", MFD_CLOEXEC), p[2];

        (void)state;
        assert_int_equal(write(mem, "1 2\n", 4), 4);
        assert_int_equal(pipe(p), 0);
        assert_int_equal(fileio_cache_in(empty), 0);
        assert_int_equal(fileio_cache_in(mem), 0);
        assert_int_equal(fileio_cache_in(p[0]), 0);
        assert_int_equal(fileio_cache_in(-1), -EBADF);
        close(empty);
        close(mem);
        close(p[0]);
        close(p[1]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fileio_copy_reads_from_offset_zero_and_keeps_the_position),
                cmocka_unit_test(test_fileio_copy_of_an_empty_file_is_empty),
                cmocka_unit_test(test_fileio_copy_from_a_pipe_is_refused),
                cmocka_unit_test(test_fileio_copy_to_a_read_only_descriptor_is_an_error),
                cmocka_unit_test(test_fileio_cache_in_brings_all_of_an_evicted_file_back),
                cmocka_unit_test(test_fileio_cache_in_accepts_empty_files_memory_files_and_pipes),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
