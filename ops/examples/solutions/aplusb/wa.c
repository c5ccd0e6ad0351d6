/* A+B, wrong answer: 32-bit arithmetic passes the small tests, then overflows on test 3. */
#include <stdint.h>
#include <stdio.h>

int main(void)
{
        long long a, b;

        if (scanf("%lld %lld", &a, &b) != 2)
                return 1;
        printf("%d\n", (int32_t)a + (int32_t)b);
        return 0;
}
