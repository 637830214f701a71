"""Which BLAS library the running PyTorch process loaded, read from /proc/self/maps after a matmul.

Debian's python3-torch depends only on the libblas3 alternative, which is the netlib reference BLAS unless an
optimised one (libopenblas0-pthread, ...) is installed: one thread, ~6 GFLOP/s on a 2048² matmul against ~290
with OpenBLAS on the same Xeon. A comparison against that PyTorch measures the BLAS package, not PyTorch, so the
benchmarks report the library and refuse the reference one."""
import os

import torch


def blas_in_use():
    """The resolved path of the BLAS shared library mapped into this process, or None when none is."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line.rsplit("/", 1)[-1]}
    resolved = sorted({os.path.realpath(path) for path in paths if path.startswith("/")})
    return resolved[0] if resolved else None


def is_reference_blas(path):
    """The netlib reference BLAS as Debian installs it (/usr/lib/<triplet>/blas/libblas.so.3...)."""
    return path is not None and os.path.basename(os.path.dirname(path)) == "blas"
