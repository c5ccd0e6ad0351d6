# A+B, memory limit: 256 MiB of ones (written, so every page is touched), four times the limit.
block = bytearray(b"\x01") * (256 << 20)
print(block[len(block) // 2] + block[-1])
