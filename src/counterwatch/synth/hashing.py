"""Vectorised pseudo-random helpers: splitmix64 mixing, 64-bit pHashes as hex, near-duplicate photos."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a fixed, well-spread function of a key (uint64 arithmetic wraps)."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hex64(values: np.ndarray) -> np.ndarray:
    """uint64 values as 16 lower-case hex digits each (a numpy ``S16`` array)."""
    be = values.astype(">u8").view(np.uint8).reshape(-1, 8)
    out = np.empty((len(values), 16), dtype=np.uint8)
    out[:, 0::2] = _HEX[be >> 4]
    out[:, 1::2] = _HEX[be & 15]
    return out.reshape(-1).view("S16")


def hex_strings(values: np.ndarray) -> pa.Array:
    """uint64 values as an Arrow string array of 16-digit hex."""
    return pa.array(hex64(values), type=pa.binary(16)).cast(pa.string())


def random_u64(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)


def flip_bits(rng: np.random.Generator, values: np.ndarray, max_bits: int = 4) -> np.ndarray:
    """Near-duplicates of ``values``: 0 to ``max_bits`` random bits flipped (a re-encoded or cropped photo)."""
    out = values.astype(np.uint64).copy()
    flips = rng.integers(0, max_bits + 1, size=len(out))
    for k in range(max_bits):  # a handful of vectorised passes, not a per-row loop
        on = flips > k
        bit = rng.integers(0, 64, size=int(on.sum()), dtype=np.uint64)
        out[on] ^= np.left_shift(np.uint64(1), bit)
    return out


def _salted(keys: np.ndarray, salt: int) -> np.ndarray:
    # Mix before salting: XOR-ing a salt into raw keys would make key a's field equal key b's.
    return mix64(mix64(keys) ^ np.uint64((salt * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF))


def uniform01(keys: np.ndarray, salt: int) -> np.ndarray:
    """A deterministic uniform [0, 1) per key (same key, same salt: same number)."""
    return (_salted(keys, salt) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def key_int(keys: np.ndarray, salt: int, modulus: int) -> np.ndarray:
    """A deterministic integer in ``[0, modulus)`` per key."""
    return (_salted(keys, salt) % np.uint64(modulus)).astype(np.int64)
