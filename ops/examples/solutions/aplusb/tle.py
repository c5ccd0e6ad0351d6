# A+B, time limit: spins the CPU for ever.
n = 0
while True:
    n += 1
