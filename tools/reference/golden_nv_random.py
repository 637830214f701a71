"""Golden draws of A1111's "NV" random source for packages/core/test/sample/nvRandom.test.ts.

An independent NumPy re-implementation of AUTOMATIC1111 `modules/rng_philox.py` (torch.randn on CUDA,
reproduced on the CPU): Philox4x32-10 with counter (offset, 0, index, 0) and key = the 64-bit seed as two
uint32 words, then a Box-Muller on words 0 and 1 with float32 constants and float64 arithmetic, rounded to
float32. The script first checks itself against the values A1111 documents for seed 0 (shape 3x4), which
are torch.randn's on an NVIDIA GPU.

    python3 tools/reference/golden_nv_random.py
"""
import json
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[2] / "packages/core/test/sample/golden-nv-random.json"
M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF


def philox(c, k):
    c = [int(v) for v in c]
    k0, k1 = k
    for r in range(10):
        if r:
            k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
        p0, p1 = M0 * c[0], M1 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & MASK, (p0 >> 32) ^ c[3] ^ k1, p0 & MASK]
    return c


def randn(seed, offset, n):
    key = (seed & MASK, (seed >> 32) & MASK)
    inv = np.float64(np.float32(2.3283064e-10))
    inv_2pi = np.float64(np.float32(2.3283064e-10 * 6.2831855))
    out = np.empty(n, dtype=np.float32)
    for i in range(n):
        w = philox((offset, 0, i, 0), key)
        u = w[0] * inv + inv / 2
        v = w[1] * inv_2pi + inv_2pi / 2
        out[i] = np.float32(np.sqrt(-2.0 * np.log(u)) * np.sin(v))
    return out


DOCUMENTED = [
    -0.92466259, -0.42534415, -2.6438457, 0.14518388,
    -0.12086647, -0.57972564, -0.62285122, -0.32838709,
    -1.07454231, -0.36314407, -1.67105067, 2.26550497,
]


def main():
    assert np.allclose(randn(0, 0, 12), DOCUMENTED, atol=1e-7), randn(0, 0, 12)
    cases = []
    for seed, offset, n in [(0, 0, 40), (1, 0, 24), (42, 0, 24), (42, 1, 24), (42, 5, 8),
                            (3_000_000_000, 0, 16), (2**32 + 7, 0, 16), (123456789, 2, 16)]:
        cases.append({"seed": seed, "offset": offset,
                      "values": [float(v) for v in randn(seed, offset, n)]})
    OUT.write_text(json.dumps({"cases": cases}) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
