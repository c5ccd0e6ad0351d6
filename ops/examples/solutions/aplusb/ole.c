/* A+B, output limit: writes 16 MiB, sixteen times the problem's 1 MiB, then stops. */
#include <stdio.h>
#include <string.h>

int main(void)
{
        static char line[1 << 16];

        memset(line, '7', sizeof(line) - 1);
        line[sizeof(line) - 1] = '\n';
        for (int i = 0; i < 256; i++)
                fwrite(line, 1, sizeof(line), stdout);
        return 0;
}
