/* A+B, time limit: spins the CPU for ever (volatile, so the loop is not optimised away). */
int main(void)
{
        volatile unsigned long long n = 0;

        for (;;)
                n++;
}
