# A+B, compilation error: a syntax error (caught by the compile step, py_compile).
a, b = map(int, open(0).read().split()
print(a + b)
