/* An ordinary contest program in the C dialect judges use (GNU C): POSIX and GNU names that
 * strict -std=c17 hides, and the ONLINE_JUDGE macro contestants test for. Prints "ok N". */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#ifndef ONLINE_JUDGE
#error "ONLINE_JUDGE is not defined"
#endif

int main(void)
{
        struct timespec ts;
        char *line = NULL, *copy;
        size_t cap = 0;
        long sum = 0, a, b;
        int *p;

        if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
                return 1;
        p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return 2;
        p[0] = DT_DIR;
        while (getline(&line, &cap, stdin) > 0) {
                copy = strdup(line);
                if (sscanf(copy, "%ld %ld", &a, &b) == 2)
                        sum += a + b;
                free(copy);
        }
        free(line);
        printf("ok %ld %.5f %d\n", sum, M_PI, p[0] == DT_DIR);
        return 0;
}
