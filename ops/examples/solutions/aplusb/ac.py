# A+B, accepted (Python integers do not overflow).
a, b = map(int, open(0).read().split())
print(a + b)
