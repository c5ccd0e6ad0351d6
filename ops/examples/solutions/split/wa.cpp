// Split, wrong answer on odd n: n/2 twice. It passes subtask "small" (all even) and fails
// "large": a score of 30 of 100.
#include <iostream>

int main()
{
        long long n;

        std::cin >> n;
        std::cout << n / 2 << ' ' << n / 2 << '\n';
}
