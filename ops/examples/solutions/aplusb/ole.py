# A+B, output limit: writes 16 MiB, sixteen times the problem's 1 MiB, then stops.
import sys

line = "7" * ((1 << 16) - 1) + "\n"
for _ in range(256):
    sys.stdout.write(line)
