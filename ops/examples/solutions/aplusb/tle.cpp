// A+B, time limit: spins the CPU for ever (volatile: C++ may not assume the loop ends).
int main()
{
        volatile unsigned long long n = 0;

        for (;;)
                n = n + 1;
}
