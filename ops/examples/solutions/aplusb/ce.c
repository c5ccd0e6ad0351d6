/* A+B, compilation error: an undeclared variable. */
#include <stdio.h>

int main(void)
{
        long long a, b;

        if (scanf("%lld %lld", &a, &b) != 2)
                return 1;
        printf("%lld\n", a + c);
        return 0;
}
