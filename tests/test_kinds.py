"""Kinds by content: what libmagic says of each format, from any thread, in any scan."""

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

from cleanup import forking
from cleanup.inventory import Inventory
from cleanup.kinds import (
    HEAD,
    MAGIC_MIN_SIZE,
    extension_mismatch,
    kind_of,
    magic_available,
    recognise_buffer,
)
from cleanup.providers import parse_address
from cleanup.scan import scan

if not magic_available():
    pytest.skip("libmagic is not available", allow_module_level=True)


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


# What the report must call each format, by content whatever the name says.
EXPECTED = {
    "letter.docx": "documents",
    "sheet.xlsx": "documents",
    "deck.pptx": "documents",
    "notes.odt": "documents",
    "plain.zip": "archives",
    "archive.tar": "archives",
    "archive.tar.gz": "archives",
    "report.pdf": "documents",
    "photo.png": "images",
    "photo.jpg": "images",
    "anim.gif": "images",
    "drawing.svg": "images",
    "song.mp3": "audio",
    "sound.wav": "audio",
    "clip.mp4": "video",
    "table.csv": "documents",
    "data.json": "documents",
    "page.html": "documents",
    "latin.txt": "documents",
    "message.eml": "documents",
    "pdf-named.jpg": "documents",
    "zip-named.mp3": "archives",
}


def test_each_format_gets_its_kind_and_a_misleading_extension_is_flagged() -> None:
    files = corpus()
    for name, kind in EXPECTED.items():
        mime = recognise_buffer(files[name][:HEAD])
        assert mime is not None, name
        assert kind_of(mime, None, name) == kind, (name, mime)
    for name in ("pdf-named.jpg", "zip-named.mp3"):
        assert extension_mismatch(name, recognise_buffer(files[name][:HEAD]) or ""), name
    for name in ("letter.docx", "report.pdf", "photo.jpg", "table.csv", "book.epub"):
        assert not extension_mismatch(name, recognise_buffer(files[name][:HEAD]) or ""), name


def test_recognition_from_several_threads_at_once() -> None:
    heads = [h[:HEAD] for h in corpus().values()]
    expected = [recognise_buffer(h) for h in heads]
    results: dict[int, list[str | None]] = {}

    def work(n: int) -> None:
        results[n] = [recognise_buffer(h) for h in heads]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results.values())


@pytest.mark.parametrize("ahead", [True, False])
def test_a_scan_recognises_duplicated_contents_and_large_files(tmp_path: Path, ahead: bool) -> None:
    if ahead and not forking.available():
        pytest.skip("hashing ahead needs fork (Linux)")
    tree = tmp_path / "tree"
    tree.mkdir()
    files = corpus()
    chosen = [n for n in files if not n.startswith("sys-")][:60]
    for name in chosen:
        (tree / name).write_bytes(files[name])
        (tree / f"copy of {name}").write_bytes(files[name])  # duplicated: recognised by content
    (tree / "alone.pdf").write_bytes(files["report.pdf"] + b"unique")  # no copy: by its name
    big = os.urandom(MAGIC_MIN_SIZE)
    (tree / "big.bin").write_bytes(big)
    inventory = Inventory(tmp_path / "inv.sqlite")
    scan(inventory, [parse_address(str(tree))], hash_ahead=ahead)
    stored = dict(
        inventory.db.execute("SELECT name, content_kind FROM files WHERE kind = 'file'").fetchall()
    )
    for name in chosen:
        if files[name]:
            assert stored[name] == recognise_buffer(files[name][:HEAD]), name
            assert stored[f"copy of {name}"] == stored[name]
    assert stored["big.bin"] == recognise_buffer(big[:HEAD])
    assert stored["alone.pdf"] is None
