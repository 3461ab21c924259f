"""Recognising kinds by content is cheap and answers exactly what libmagic answers."""

from __future__ import annotations

import gzip
import io
import os
import random
import struct
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from cleanup import kinds
from cleanup.inventory import Inventory
from cleanup.kinds import detect_kinds, extension_mismatch, kind_of_mime, recognise_buffer
from cleanup.providers import parse_address
from cleanup.scan import scan

magic = pytest.importorskip("magic")
try:
    _FULL = magic.Magic(mime=True)
except Exception:  # python-magic without libmagic
    pytest.skip("libmagic is not available", allow_module_level=True)


def libmagic(head: bytes) -> str:
    return str(_FULL.from_buffer(head))


_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"></Types>'
)


def _zip(entries: list[tuple[str, bytes, bool]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, deflate in entries:
            zf.writestr(
                zipfile.ZipInfo(name), data, zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            )
    return buf.getvalue()


def _tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        data = b"x" * 3000
        info = tarfile.TarInfo("a.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def corpus() -> dict[str, bytes]:
    """Files of every kind the report counts, text in several encodings, and noise."""
    rng = random.Random(20240601)
    files = {
        "letter.docx": _zip(
            [
                ("[Content_Types].xml", _CONTENT_TYPES, False),
                ("word/document.xml", b"<w:document/>", True),
            ]
        ),
        "sheet.xlsx": _zip(
            [("[Content_Types].xml", _CONTENT_TYPES, False), ("xl/workbook.xml", b"<w/>", True)]
        ),
        "deck.pptx": _zip(
            [
                ("[Content_Types].xml", _CONTENT_TYPES, False),
                ("ppt/presentation.xml", b"<p/>", True),
            ]
        ),
        "notes.odt": _zip(
            [
                ("mimetype", b"application/vnd.oasis.opendocument.text", False),
                ("content.xml", b"<o/>", True),
            ]
        ),
        "book.epub": _zip(
            [("mimetype", b"application/epub+zip", False), ("content.opf", b"<p/>", True)]
        ),
        "plain.zip": _zip([("hello.txt", b"hello " * 200, True)]),
        "archive.tar": _tar(),
        "archive.tar.gz": gzip.compress(_tar()),
        "report.pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n" + rng.randbytes(3000),
        "photo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"
        + rng.randbytes(500),
        "photo.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + rng.randbytes(2000),
        "anim.gif": b"GIF89a\x10\x00\x10\x00\x80\x00\x00" + rng.randbytes(300),
        "drawing.svg": b'<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">\n<svg/>\n',
        "shout.svg": b"<!DOCTYPE   SVG>\n<svg/>\n",
        "wide.svg": "<!DOCTYPE svg>\n<svg/>\n".encode("utf-16"),
        "song.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + rng.randbytes(2000),
        "sound.wav": b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00\x44\xac\x00\x00"
        + rng.randbytes(200),
        "clip.mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + rng.randbytes(1000),
        "table.csv": b"name,size,date\n"
        + b"".join(b"f%d,%d,2024-01-01\n" % (i, i) for i in range(100)),
        "data.json": b'{"a": [1, 2, 3], "b": {"c": "d"}}\n',
        "page.html": b"<!DOCTYPE html>\n<html><head><title>x</title></head><body>hi</body></html>\n",
        "latin.txt": "Grüße, naïve café\n".encode("latin-1") * 40,
        "wide.txt": "hello world text\n".encode("utf-16") * 40,
        "script.sh": b"#!/bin/sh\necho hi\n",
        "message.eml": b"From: a@b.c\nTo: d@e.f\nSubject: hi\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nbody\n",
        "pdf-named.jpg": b"%PDF-1.4\n" + rng.randbytes(1000),
        "zip-named.mp3": _zip([("a.txt", b"a", False)]),
        "utf32-noise.bin": b"\xff\xfe\x00\x00" + rng.randbytes(4000),
    }
    names = [
        "photo.jpg",
        "report.pdf",
        "movie.mp4",
        "song.mp3",
        "backup.zip",
        "notes.txt",
        "img.heic",
        "noext",
    ]
    for i in range(120):
        size = rng.choice([1, 2, 3, 8, 100, 257, 512, 4096, 8192, 8192])
        files[f"noise{i}-{names[i % len(names)]}"] = rng.randbytes(size)
        # the benchmark's files: a little-endian counter, then noise
        files[f"counter{i}-{names[i % len(names)]}"] = struct.pack(
            "<Q", rng.randrange(1 << 16)
        ) + rng.randbytes(8184)
    for share in ("/usr/share/pixmaps", "/usr/share/icons", "/usr/share/doc", "/usr/share/sounds"):
        found = (
            sorted(p for p in Path(share).rglob("*") if p.is_file() and not p.is_symlink())[:60]
            if os.path.isdir(share)
            else []
        )
        for p in found:
            try:
                files[f"sys-{share.rsplit('/', 1)[1]}-{p.name}"] = p.read_bytes()[:8192]
            except OSError:
                pass
    return files


def test_recognition_answers_exactly_what_libmagic_answers() -> None:
    for name, head in corpus().items():
        expected, got = libmagic(head), recognise_buffer(head)
        assert got == expected, name
        assert kind_of_mime(got) == kind_of_mime(expected)
        assert extension_mismatch(name, got) == extension_mismatch(name, expected)
    assert extension_mismatch("pdf-named.jpg", recognise_buffer(corpus()["pdf-named.jpg"]) or "")


def test_every_rule_left_out_of_the_database_is_still_found() -> None:
    """A buffer that passes the first test of a rule left out gets that rule's answer."""
    recogniser = kinds._get_recogniser()
    split = getattr(recogniser, "_split", None)
    if split is None:
        pytest.skip("this libmagic's database is not split; every buffer gets the whole database")
    assert len(split.residual) < len(split.groups) / 3  # most rules are ruled out by a lookup
    if split.rerun_guard_blob is not None:  # rules kept that may re-run the database are noticed
        guard = kinds._Cookie(recogniser._lib, [recogniser._guard_blob], kinds._GUARD_FLAGS)  # type: ignore[union-attr]
        assert any(guard(head) == "x" for head in corpus().values())
    rng = random.Random(5)
    buffers = []
    for off, table in split.tables:
        for rules in table.values():
            for pattern, _ in rules:
                for fill in (rng.randbytes(8192), bytes(8192)):
                    buf = bytearray(fill)
                    buf[off : off + len(pattern)] = pattern
                    buffers.append(bytes(buf))
    for _, start, end, token, _, _ in split.guards:
        for variant in (token, token.upper(), token.swapcase()):
            for base in (rng.randbytes(8192), b"x" * 8192):
                buf = bytearray(base)
                pos = start + rng.randrange(max(1, end - start - len(token)))
                buf[pos : pos + len(variant)] = variant
                buffers.append(bytes(buf))
    for buf in buffers[::3] if len(buffers) > 3000 else buffers:
        assert recognise_buffer(buf) == libmagic(buf)


def test_without_a_split_database_the_whole_one_answers_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kinds, "_compiled_database", lambda lib: None)
    plain = kinds._Recogniser()
    assert not plain.fast
    for name, head in list(corpus().items())[:80]:
        assert plain(head) == libmagic(head), name


def test_where_libmagic_cannot_be_reached_directly_python_magic_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unreachable() -> None:
        raise AttributeError("no libmagic handle")

    monkeypatch.setattr(kinds, "_Lib", unreachable)
    monkeypatch.setattr(kinds, "_recogniser", None)
    recogniser = kinds._get_recogniser()
    assert isinstance(recogniser, kinds._PlainRecogniser)
    for name, head in list(corpus().items())[:40]:
        assert recognise_buffer(head) == libmagic(head), name


def test_recognition_from_several_threads_at_once() -> None:
    heads = list(corpus().values())
    expected = [libmagic(h) for h in heads]
    results: dict[int, list[str | None]] = {}

    def work(n: int) -> None:
        results[n] = [recognise_buffer(h) for h in heads]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results.values())


def test_a_scan_stores_the_kinds_plain_libmagic_finds(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    files = corpus()
    chosen = [n for n in files if not n.startswith("sys-")][:60]
    for name in chosen:
        (tree / name).write_bytes(files[name])
        (tree / f"copy of {name}").write_bytes(files[name])  # duplicated: recognised by content
    big = os.urandom(kinds.MAGIC_MIN_SIZE)
    (tree / "big.bin").write_bytes(big)
    inventory = Inventory(tmp_path / "inv.sqlite")
    scan(inventory, [parse_address(str(tree))])
    inventory.db.execute("UPDATE files SET content_kind = NULL")
    assert detect_kinds(inventory) > 0
    stored = dict(
        inventory.db.execute("SELECT name, content_kind FROM files WHERE kind = 'file'").fetchall()
    )
    for name in chosen:
        if files[name]:
            assert stored[name] == libmagic(files[name][:8192]), name
            assert stored[f"copy of {name}"] == stored[name]
    assert stored["big.bin"] == libmagic(big[:8192])
