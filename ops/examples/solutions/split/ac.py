# Split, accepted: another right answer than ac.cpp's, the checker accepts both.
n = int(input())
print(1, n - 1)
