"""QuickXorHash agrees with the published vectors and hashes files incrementally."""

from __future__ import annotations

import base64
import os
import random
import time
from pathlib import Path

import pytest

from cleanup import quickxor
from cleanup.quickxor import QuickXorHash, quickxor_bytes, quickxor_file, quickxor_stream

# (input, expected) both base64, from rclone's backend/onedrive/quickxorhash test suite,
# which checks its Go port against Microsoft's reference implementation.
VECTORS = [
    ("", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    ("Sg==", "SgAAAAAAAAAAAAAAAQAAAAAAAAA="),
    ("tbQ=", "taAFAAAAAAAAAAAAAgAAAAAAAAA="),
    ("0pZP", "0rDEEwAAAAAAAAAAAwAAAAAAAAA="),
    ("jRRDVA==", "jaDAEKgAAAAAAAAABAAAAAAAAAA="),
    ("eAV52qE=", "eChAHrQRCgAAAAAABQAAAAAAAAA="),
    ("luBZlaT6", "lgBHFipBCn0AAAAABgAAAAAAAAA="),
    ("qaApEj66lw==", "qQBFCiTgA11cAgAABwAAAAAAAAA="),
    ("/aNzzCFPS/A=", "/RjFHJgRgicsAR4ACAAAAAAAAAA="),
    ("n6Neh7p6fFgm", "nxiFFw6hCz3wAQsmCQAAAAAAAAA="),
    ("J9iPGCbfZSTNyw==", "J8DGIzBggm+UgQTNUgYAAAAAAAA="),
    ("h490d57Pqz5q2rtT", "h3gEHe7giWeswgdq3MYupgAAAAA="),
    ("2fuxhBJXtpWFe8dOfdGeHw==", "O9tHLAghgSvYohKFyMMxnNCHaHg="),
    ("T6LYJIfDh81JrAK309H2JMJTXis=", "zBTHrspn3mEcohlJdIUAbjGNaNg="),
    ("DWAAX5/CIfrmErgZa8ot6ZraeSbu", "LR2Z0PjuRYGKQB/mhQAuMrAGZbQ="),
    ("NbYXsp5/K6mR+NmHwExjvWeWDJFnXTKWVlzYHoesp2E=", "wjuAuWDiq04qDt1R8hHWDDcwVoQ="),
    (
        "0qx0xdyTHhnKJ22IeTlAjRpWw6y2sOOWFP75XJ7cleGJQiV2kyrmQOST4DGHIL0qqA7sMOdzKyTViw==",
        "bS0tRYPkP1Gfc+ZsBm9PMzPunG8=",
    ),
    (
        "Mb7EGva2rEE5fENDL85P+BsapHEEjv2/siVhKjvAQe02feExVOQSkfmuYzU/kTF1MaKjPmKF/w+cbvwfdWL8aQ==",
        "n1anP5NfvD4XDYWIeRPW3ZkPv1Y=",
    ),
    (
        "jyibxJSzO6ZiZ0O1qe3tG/bvIAYssvukh9suIT5wEy1JBINVgPiqdsTW0cOpP0aUfP7mgqLfADkz"
        "I/m/GgCuVhr8oFLrOCoTx1/psBOWwhltCbhUx51Icm9aH8tY4Z3ccU+6BKpYQkLCy0B/A9Zc",
        "hZfLIilSITC6N3e3tQ/iSgEzkto=",
    ),
    (
        "ikwCorI7PKWz17EI50jZCGbV9JU2E8bXVfxNMg5zdmqSZ2NlsQPp0kqYIPjzwTg1MBtfWPg53k0h"
        "0P2naJNEVgrqpoHTfV2b3pJ4m0zYPTJmUX4Bg/lOxcnCxAYKU29Y5F0U8Quz7ZXFBEweftXxJ7RS"
        "4r6N7BzJrPsLhY7hgck=",
        "imAoFvCWlDn4yVw3/oq1PDbbm6U=",
    ),
    (
        "PfxMcUd0vIW6VbHG/uj/Y0W6qEoKmyBD0nYebEKazKaKG+UaDqBEcmQjbfQeVnVLuodMoPp7P7TR"
        "1htX5n2VnkHh22xDyoJ8C/ZQKiSNqQfXvh83judf4RVr9exJCud8Uvgip6aVZTaPrJHVjQhMCp/d"
        "EnGvqg0oN5OVkM2qqAXvA0teKUDhgNM71sDBVBCGXxNOR2bpbD1iM4dnuT0ey4L+loXEHTL0fqMe"
        "UcEi2asgImnlNakwenDzz0x57aBwyq3AspCFGB1ncX4yYCr/OaCcS5OKi/00WH+wNQU3",
        "QX/YEpG0gDsmhEpCdWhsxDzsfVE=",
    ),
    (
        "qwGf2ESubE5jOUHHyc94ORczFYYbc2OmEzo+hBIyzJiNwAzC8PvJqtTzwkWkSslgHFGWQZR2BV5+"
        "uYTrYT7HVwRM40vqfj0dBgeDENyTenIOL1LHkjtDKoXEnQ0mXAHoJ8PjbNC93zi5TovVRXTNzfGE"
        "s5dpWVqxUzb5lc7dwkyvOluBw482mQ4xrzYyIY1t+//OrNi1ObGXuUw2jBQOFfJVj2Y6BOyYmfB1"
        "y36eBxi3zxeG5d5NYjm2GSh6e08QMAwu3zrINcqIzLOuNIiGXBtl7DjKt7b5wqi4oFiRpZsCyx2s"
        "mhSrdrtK/CkdU6nDN+34vSR/M8rZpWQdBE7a8g==",
        "WYT9JY3JIo/pEBp+tIM6Gt2nyTM=",
    ),
]


def _reference(data: bytes) -> str:
    """Byte-at-a-time QuickXorHash, written straight from the algorithm's definition."""
    cell = 0
    for position, byte in enumerate(data):
        rotated = byte << ((position * 11) % 160)
        cell ^= (rotated & ((1 << 160) - 1)) ^ (rotated >> 160)
    out = bytearray(cell.to_bytes(20, "little"))
    for i, byte in enumerate(len(data).to_bytes(8, "little")):
        out[12 + i] ^= byte
    return base64.b64encode(bytes(out)).decode()


@pytest.mark.parametrize(("given", "expected"), VECTORS)
def test_published_vectors(given: str, expected: str) -> None:
    data = base64.b64decode(given)
    assert quickxor_bytes(data) == expected
    assert _reference(data) == expected


@pytest.mark.parametrize("block", [1, 2, 7, 64, 159, 160, 161, 512])
def test_fed_in_pieces_gives_the_same_hash(block: int) -> None:
    for given, expected in VECTORS:
        data = base64.b64decode(given)
        hasher = QuickXorHash()
        for start in range(0, len(data), block):
            hasher.update(data[start : start + block])
        assert hasher.b64digest() == expected


def test_a_file_spanning_many_reads_matches_the_definition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # reads that end mid-block, so every read starts at another offset of the 160-byte cycle
    monkeypatch.setattr(quickxor, "READ_SIZE", 100_003)
    rng = random.Random(5)
    data = rng.randbytes(3 * 160 * 4096 + 77)
    path = tmp_path / "report.docx"
    path.write_bytes(data)
    hasher = QuickXorHash()
    for start in range(0, len(data), 100_003):
        hasher.update(data[start : start + 100_003])
    assert quickxor_file(path) == hasher.b64digest() == _reference(data)
    with open(path, "rb") as stream:
        assert quickxor_stream(stream) == hasher.b64digest()
    # one flipped byte changes the hash
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert quickxor_file(path) != hasher.b64digest()


def test_hashes_a_large_file_quickly(tmp_path: Path) -> None:
    path = tmp_path / "video.mp4"
    size = 64 * 1024 * 1024
    with open(path, "wb") as out:
        block = os.urandom(1024 * 1024)
        for _ in range(64):
            out.write(block)
    started = time.perf_counter()
    quickxor_file(path)
    rate = size / (time.perf_counter() - started) / 1e6
    # generous floor: a multi-GB file must take seconds, not minutes
    assert rate > 50, f"{rate:.0f} MB/s"
