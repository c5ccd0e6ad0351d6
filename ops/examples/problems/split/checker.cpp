// SPDX-License-Identifier: MIT
// The checker of "split", in testlib's convention but self-contained: checker input output
// answer; exit 0 AC, 1 WA, 2 PE (not two integers), 3 the checker's own failure (bad input or
// answer file); one line of explanation on stderr.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

enum { AC = 0, WA = 1, PE = 2, FAIL = 3 };

[[noreturn]] static void verdict(int code, const std::string &msg)
{
        std::fprintf(stderr, "%s\n", msg.c_str());
        std::exit(code);
}

// Every whitespace-separated token of a file; false when it cannot be read.
static bool tokens(const char *path, std::vector<std::string> &out)
{
        std::ifstream f(path, std::ios::binary);
        std::string t;

        if (!f)
                return false;
        while (f >> t && out.size() < 16)
                out.push_back(t);
        return true;
}

// A decimal integer in [1, 10^18], strictly: digits only, no sign, no leading zero.
static bool parse(const std::string &s, long long &v)
{
        if (s.empty() || s.size() > 19 || s[0] == '0')
                return false;
        for (char c : s)
                if (c < '0' || c > '9')
                        return false;
        errno = 0;
        v = std::strtoll(s.c_str(), nullptr, 10);
        return !errno && v >= 1 && v <= 1000000000000000000LL;
}

int main(int argc, char **argv)
{
        std::vector<std::string> in, out, ans;
        long long n, a, b, x, y;

        if (argc != 4)
                verdict(FAIL, "usage: checker input output answer");
        if (!tokens(argv[1], in) || in.size() != 1 || !parse(in[0], n) || n < 2)
                verdict(FAIL, "bad input file");
        if (!tokens(argv[3], ans) || ans.size() != 2 || !parse(ans[0], x) || !parse(ans[1], y) ||
            x + y != n)
                verdict(FAIL, "bad answer file");
        if (!tokens(argv[2], out))
                verdict(FAIL, "cannot read the output");
        if (out.size() != 2 || !parse(out[0], a) || !parse(out[1], b))
                verdict(PE, "expected two positive integers");
        if (a + b != n)
                verdict(WA, std::to_string(a) + " + " + std::to_string(b) + " is not " +
                                    std::to_string(n));
        verdict(AC, std::to_string(a) + " + " + std::to_string(b) + " = " + std::to_string(n));
}
