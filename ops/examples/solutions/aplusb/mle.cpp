// A+B, memory limit: a 256 MiB vector, every byte written, four times the limit.
#include <iostream>
#include <vector>

int main()
{
        std::vector<unsigned char> v(std::size_t(256) << 20, 1);

        // The compiler may drop an allocation nobody looks at; this says somebody does.
        __asm__ volatile("" : : "r"(v.data()) : "memory");
        std::cout << int(v[v.size() / 2]) + int(v.back()) << '\n';
}
