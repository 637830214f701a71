"""Shared pieces of the golden-file scripts: deterministic synthetic weights and a tiny safetensors writer.

The weights are a pure function of (checkpoint key, shape), computed with 32-bit integer hashing that
packages/core/src/testing/syntheticWeights.ts reproduces exactly, so the golden files need not carry them.
"""
import json
import math
import struct

import numpy as np
import torch

MASK = np.uint64(0xFFFFFFFF)


def fnv1a(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def hashed_uniform(key: str, count: int) -> np.ndarray:
    """count values in [-1, 1), each with 24 significant bits (exact in float32)."""
    i = np.arange(count, dtype=np.uint64)
    x = (np.uint64(fnv1a(key)) + i * np.uint64(0x9E3779B9)) & MASK
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & MASK
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & MASK
    x ^= x >> np.uint64(16)
    return (x >> np.uint64(8)).astype(np.float64) / 2**23 - 1


def synthetic(key: str, shape) -> torch.Tensor:
    """Norm scales near 1, biases small, matrices scaled by 1/sqrt(fan_in); rounded to float32, held in float64."""
    shape = tuple(int(d) for d in shape)
    u = hashed_uniform(key, int(np.prod(shape)) if shape else 1)
    if len(shape) == 1:
        values = 1 + 0.2 * u if key.endswith("weight") else 0.2 * u
    else:
        values = u / math.sqrt(int(np.prod(shape[1:])))
    return torch.tensor(values.astype(np.float32).astype(np.float64).reshape(shape))


def fill_synthetic(module: torch.nn.Module, prefix: str) -> dict:
    """Sets every parameter of module to its synthetic value under prefix; returns {key: shape}."""
    keys = {}
    with torch.no_grad():
        for name, param in module.named_parameters():
            key = f"{prefix}.{name}"
            param.copy_(synthetic(key, param.shape))
            keys[key] = list(param.shape)
    return keys


def write_safetensors(path: str, tensors: dict, metadata: dict) -> None:
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, tensor in tensors.items():
        array = tensor.detach().cpu().numpy()
        if array.dtype.kind == "f":
            array, dtype = array.astype("<f4"), "F32"
        else:
            array, dtype = array.astype("<i4"), "I32"
        data = array.tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        for data in blobs:
            out.write(data)


def cotangent_loss(output: torch.Tensor, name: str) -> torch.Tensor:
    """sum(output * c) with a fixed synthetic cotangent c, so gradients see every output element differently."""
    return (output * synthetic(f"golden.cotangent.{name}", output.shape)).sum()
