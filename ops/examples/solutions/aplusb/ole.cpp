// A+B, output limit: writes 16 MiB, sixteen times the problem's 1 MiB, then stops.
#include <iostream>
#include <string>

int main()
{
        std::string line((1 << 16) - 1, '7');

        for (int i = 0; i < 256; i++)
                std::cout << line << '\n';
}
