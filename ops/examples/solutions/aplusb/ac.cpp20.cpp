// A+B, accepted, as C++20 (language cpp20): it uses concepts and std::ranges, which C++17
// lacks, so it proves the cpp20 entry really compiles C++20.
#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <iostream>
#include <numeric>

template <std::integral T> T sum(const std::array<T, 2> &v)
{
        return std::accumulate(v.begin(), v.end(), T{0});
}

int main()
{
        std::array<std::int64_t, 2> v{};

        for (auto &x : v)
                std::cin >> x;
        std::ranges::sort(v);
        std::cout << sum(v) << '\n';
}
