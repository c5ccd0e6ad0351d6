# A+B, wrong answer: the sum modulo 2^32, right on the small tests only.
a, b = map(int, open(0).read().split())
print((a + b) % 2**32)
