// A+B, runtime error: an exception nobody catches (std::terminate, SIGABRT).
#include <stdexcept>

int main()
{
        throw std::runtime_error("no answer today");
}
