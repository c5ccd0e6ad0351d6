# A+B, runtime error: an exception (Python exits with status 1).
a, b = map(int, open(0).read().split())
raise RuntimeError("no answer today")
