/* Circle, wrong answer: pi as 3.14 is off by 5e-4 relative, far beyond the checker's 1e-6. */
#include <stdio.h>

int main(void)
{
        double r;

        if (scanf("%lf", &r) != 1)
                return 1;
        printf("%.10f\n", 3.14 * r * r);
        return 0;
}
