/* A+B, memory limit: writes 256 MiB (every page really touched), four times the limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
        size_t n = (size_t)256 << 20;
        unsigned char *p = malloc(n);

        if (!p)
                return 1;
        memset(p, 1, n);
        /* The compiler may drop writes to memory nobody reads; this says somebody does. */
        __asm__ volatile("" : : "r"(p) : "memory");
        printf("%d\n", p[n / 2] + p[n - 1]); /* so the writes are needed */
        free(p);
        return 0;
}
