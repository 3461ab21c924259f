"""QuickXorHash, the content hash OneDrive for Business and SharePoint report for files."""

from __future__ import annotations

import base64
import os
from typing import BinaryIO

WIDTH_BITS = 160
SHIFT = 11
# Byte n of the input lands at bit (11 * n) mod 160; 11 and 160 are coprime, so the
# pattern repeats every 160 bytes and bytes 160 apart can be XOR-folded before rotating.
PERIOD = WIDTH_BITS
_MASK = (1 << WIDTH_BITS) - 1
# Content is XOR-ed together in parts of 160 * 128 bytes (small enough to stay in the CPU
# cache as integers), then the one remaining part is folded in seven halvings.
PART = PERIOD * 128
READ_SIZE = PART * 512  # 10 MiB per read


def _fold(chunk: bytes | bytearray | memoryview) -> bytes:
    """XOR every 160-byte block of chunk together, keeping each byte at its offset mod 160."""
    view = memoryview(chunk)
    value = 0
    for start in range(0, len(view), PART):
        value ^= int.from_bytes(view[start : start + PART], "little")
    bits = PART * 8
    while bits > PERIOD * 8:
        bits //= 2
        value = (value >> bits) ^ (value & ((1 << bits) - 1))
    return value.to_bytes(PERIOD, "little")


class QuickXorHash:
    """Incremental QuickXorHash: update() with bytes, then digest() or b64digest()."""

    def __init__(self, data: bytes = b"") -> None:
        self._slots = 0  # 160 bytes as one integer; byte j holds bytes at offsets = j mod 160
        self._length = 0
        if data:
            self.update(data)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed more content."""
        if not data:
            return
        folded = _fold(data)
        shift = self._length % PERIOD
        if shift:
            folded = folded[PERIOD - shift :] + folded[: PERIOD - shift]
        self._slots ^= int.from_bytes(folded, "little")
        self._length += len(data)

    def digest(self) -> bytes:
        """The 20-byte hash of everything fed so far."""
        slots = self._slots.to_bytes(PERIOD, "little")
        cell = 0
        for offset, byte in enumerate(slots):
            if byte:
                rotated = byte << ((offset * SHIFT) % WIDTH_BITS)
                cell ^= (rotated & _MASK) ^ (rotated >> WIDTH_BITS)
        out = bytearray(cell.to_bytes(WIDTH_BITS // 8, "little"))
        for i, byte in enumerate(self._length.to_bytes(8, "little")):
            out[WIDTH_BITS // 8 - 8 + i] ^= byte
        return bytes(out)

    def b64digest(self) -> str:
        """The hash in base64, as Graph gives it in file.hashes.quickXorHash."""
        return base64.b64encode(self.digest()).decode("ascii")


def quickxor_bytes(data: bytes) -> str:
    """QuickXorHash of data, base64 encoded."""
    return QuickXorHash(data).b64digest()


def quickxor_stream(stream: BinaryIO) -> str:
    """QuickXorHash of everything read from a binary stream, base64 encoded."""
    hasher = QuickXorHash()
    while chunk := stream.read(READ_SIZE):
        hasher.update(chunk)
    return hasher.b64digest()


def quickxor_file(path: str | os.PathLike[str]) -> str:
    """QuickXorHash of a local file, base64 encoded, comparable with Graph's quickXorHash."""
    hasher = QuickXorHash()
    buffer = bytearray(READ_SIZE)  # one buffer reused for every read
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as stream:
        while count := stream.readinto(buffer):
            hasher.update(view[:count])
    return hasher.b64digest()
