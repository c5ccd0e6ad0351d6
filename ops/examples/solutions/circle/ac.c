/* Circle, accepted: pi to double precision (acos(-1), portable C without M_PI), ten decimals. */
#include <math.h>
#include <stdio.h>

int main(void)
{
        double r;

        if (scanf("%lf", &r) != 1)
                return 1;
        printf("%.10f\n", acos(-1.0) * r * r);
        return 0;
}
