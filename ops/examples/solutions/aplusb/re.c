/* A+B, runtime error: a write through a null pointer (SIGSEGV). Both the pointer and what it
 * points to are volatile, so the compiler can neither see that it is null nor drop the write. */
#include <stddef.h>

int main(void)
{
        volatile int *volatile p = NULL;

        *p = 42;
        return 0;
}
