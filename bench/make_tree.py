"""Build a generated folder tree that looks like a member of staff's files, with known duplicates.

The tree holds a realistic mix of file sizes (most files a few KB, a few of several MB) in
nested folders, and every ingredient a duplicate finder can get wrong:

- duplicate groups of several sizes (2 to 50 copies) spread across folders;
- a whole duplicated folder, "Photos 2019 (copy)";
- same-size decoys that differ from a duplicate in one byte (the first, a middle or the last);
- hardlinks (several names of one inode, alone and inside duplicate groups);
- sparse files, duplicated with each other and with a dense copy of the same bytes;
- symlinks to files and folders, broken ones, a loop of two links, a link to an ancestor;
- empty files, junk (.DS_Store, Thumbs.db, ~$ lock files);
- awkward names: spaces, a leading dash, quotes, emoji, bytes that are not UTF-8, a newline.

Usage:
    python bench/make_tree.py /tmp/tree --files 50000

The planted duplicate groups (by path relative to the root) are written to
``<root>.manifest.json`` beside the tree, so that a check does not depend on any tool.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

EXTENSIONS = {
    "doc": (".docx", ".pdf", ".txt", ".xlsx", ".odt", ".md", ".csv", ".pptx"),
    "photo": (".jpg", ".png", ".heic"),
    "media": (".mp3", ".m4a", ".mp4", ".mov"),
    "other": (".zip", ".json", ".log", ".bin", ".py", ".html", ".xml", ""),
}
WORDS = [
    "report",
    "budget",
    "minutes",
    "notes",
    "invoice",
    "draft",
    "final",
    "plan",
    "summary",
    "contract",
    "letter",
    "agenda",
    "holiday",
    "team",
    "project",
    "offer",
    "review",
    "slides",
    "data",
    "backup",
    "export",
    "scan",
    "receipt",
    "meeting",
    "schedule",
    "brochure",
    "memo",
    "policy",
    "survey",
    "results",
    "thesis",
    "chapter",
    "figure",
    "table",
    "appendix",
]
TOP_FOLDERS = (
    "Documents",
    "Downloads",
    "Desktop",
    "Projects",
    "Music",
    "Shared",
    "Archive",
    ".config",
)
AWKWARD_NAMES: tuple[str | bytes, ...] = (
    "  leading and trailing spaces  .txt",
    "-rf --no-preserve-root.txt",
    "-n",
    'it\'s a "quoted" name.docx',
    "emoji \U0001f4f7 photo \U0001f389.jpg",
    "tab\tseparated.csv",
    "line\nbreak.txt",
    b"caf\xe9 latin-1 name.txt",  # not valid UTF-8
    b"\xff\xfe broken \x80 bytes.bin",
    "back\\slash.txt",
    "star * and ? question.txt",
    "\u00e9t\u00e9 d\u00e9composed e\u0301t\u0301e\u0301.txt",
)


@dataclass
class Tree:
    """What was built: counts, and the planted duplicate groups by relative path."""

    root: Path
    files: int = 0
    bytes: int = 0
    groups: list[list[str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


def _size(rng: random.Random, scale: float) -> int:
    """A file size from a mix like a home folder's: mostly small, a long tail to a few MB."""
    r = rng.random()
    if r < 0.66:
        lo, hi = 16, 8 << 10
    elif r < 0.945:
        lo, hi = 8 << 10, 64 << 10
    elif r < 0.997:
        lo, hi = 64 << 10, 512 << 10
    else:
        lo, hi = 1 << 20, 6 << 20
    size = int(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return max(1, int(size * scale))


class _Builder:
    def __init__(self, root: Path, files: int, seed: int, scale: float) -> None:
        self.root = root
        self.target = files
        self.rng = random.Random(seed)
        self.scale = scale
        self.tree = Tree(root)
        self.folders: list[Path] = []
        self.serial = 0

    # --- primitives ----------------------------------------------------------------

    def content(self, size: int) -> bytes:
        # A serial number up front keeps every generated content unique, however small.
        self.serial += 1
        head = self.serial.to_bytes(8, "little")
        return (head + self.rng.randbytes(max(0, size - 8)))[:size]

    def name(self, folder: Path, kind: str | None = None) -> Path:
        kind = kind or self.rng.choices(("doc", "photo", "media", "other"), (6, 2, 1, 2))[0]
        for _ in range(100):
            stem = f"{self.rng.choice(WORDS)} {self.rng.choice(WORDS)} {self.rng.randrange(10000)}"
            path = folder / (stem + self.rng.choice(EXTENSIONS[kind]))
            if not os.path.lexists(path):
                return path
        raise RuntimeError(f"no free name in {folder}")

    def write(self, path: Path | bytes, data: bytes) -> None:
        with open(path, "wb") as f:
            f.write(data)
        self.tree.files += 1
        self.tree.bytes += len(data)

    def rel(self, path: Path | bytes) -> str:
        return os.path.relpath(os.fsdecode(path), self.root)

    def folder(self) -> Path:
        return self.rng.choice(self.folders)

    # --- the tree ------------------------------------------------------------------

    def make_folders(self) -> None:
        wanted = max(8, self.target // 90)
        self.folders = []
        for top in TOP_FOLDERS:
            p = self.root / top
            p.mkdir(parents=True)
            self.folders.append(p)
        while len(self.folders) < wanted:
            parent = self.rng.choice(self.folders)
            if len(parent.relative_to(self.root).parts) >= 6:
                continue
            child = parent / f"{self.rng.choice(WORDS).title()} {self.rng.randrange(100)}"
            if child.exists():
                continue
            child.mkdir()
            self.folders.append(child)
        # Empty folders, nested and not.
        for i in range(3):
            (self.root / "Archive" / f"empty {i}" / "nothing here").mkdir(parents=True)

    def photos(self, photos: int) -> None:
        """Photos 2019 and its full copy, with month subfolders."""
        src = self.root / "Photos 2019"
        months = ["01 January", "02 February", "03 March", "04 April", "05 May", "06 June"]
        per = max(1, photos // len(months))
        for month in months:
            (src / month).mkdir(parents=True)
            for _ in range(per):
                size = int(math.exp(self.rng.uniform(math.log(40 << 10), math.log(900 << 10))))
                self.write(self.name(src / month, "photo"), self.content(int(size * self.scale)))
        (src / "Thumbs.db").write_bytes(self.content(2048))
        self.tree.files += 1
        dst = self.root / "Photos 2019 (copy)"
        shutil.copytree(src, dst, copy_function=shutil.copy2)
        for dirpath, _dirs, names in os.walk(src):
            for n in names:
                a = os.path.join(dirpath, n)
                b = os.path.join(dst, os.path.relpath(a, src))
                self.tree.groups.append([self.rel(a), self.rel(b)])
                self.tree.files += 1
        self.tree.count("photos in the duplicated folder", per * len(months) + 1)

    def duplicates(self, budget: int) -> None:
        """Duplicate groups of several sizes, copies spread over folders."""
        sizes = [2] * 60 + [3] * 20 + [4] * 8 + [5] * 6 + [10] * 4 + [25] * 1
        used = 0
        groups = 0
        while used < budget:
            n = self.rng.choice(sizes)
            data = self.content(_size(self.rng, self.scale))
            paths = []
            for _ in range(n):
                p = self.name(self.folder())
                self.write(p, data)
                paths.append(self.rel(p))
            self.tree.groups.append(paths)
            used += n
            groups += 1
            if self.rng.random() < 0.12:
                self.decoy(data)
        # One small file copied everywhere (a logo in every project folder).
        logo = self.content(5120)
        paths = []
        for i in range(50):
            p = self.folders[i % len(self.folders)] / f"logo {i}.png"
            self.write(p, logo)
            paths.append(self.rel(p))
        self.tree.groups.append(paths)
        self.tree.count("duplicate groups (planted, excluding photos)", groups + 1)

    def decoy(self, data: bytes) -> None:
        """A file of the same size differing in one byte: first, middle or last."""
        where = self.rng.choice(("first", "middle", "last"))
        at = {"first": 0, "middle": len(data) // 2, "last": len(data) - 1}[where]
        changed = bytearray(data)
        changed[at] ^= 0xFF
        self.write(self.name(self.folder()), bytes(changed))
        self.tree.count(f"one-byte decoys ({where})")

    def uniques(self, n: int) -> None:
        for _ in range(n):
            self.write(self.name(self.folder()), self.content(_size(self.rng, self.scale)))

    def hardlinks(self) -> None:
        # Alone: three names of one inode are one file, not duplicates.
        for _ in range(20):
            first = self.name(self.folder())
            self.write(first, self.content(_size(self.rng, self.scale)))
            for _ in range(2):
                os.link(first, self.name(self.folder()))
                self.tree.count("hardlink names")
        # Inside duplicate groups: one copy has two names, the other copy one.
        for _ in range(20):
            data = self.content(_size(self.rng, self.scale))
            a, b = self.name(self.folder()), self.name(self.folder())
            self.write(a, data)
            self.write(b, data)
            c = self.name(self.folder())
            os.link(a, c)
            self.tree.count("hardlink names")
            self.tree.groups.append([self.rel(a), self.rel(b), self.rel(c)])

    def sparse(self) -> None:
        folder = self.root / "Projects" / "disk images"
        folder.mkdir()
        payload = self.content(64 << 10)
        apparent = int((8 << 20) * max(self.scale, 0.05))
        paths = []
        for i in range(3):  # three sparse copies: 8 MB apparent, 128 KB allocated each
            p = folder / f"vm disk {i}.img"
            with open(p, "wb") as f:
                f.write(payload)
                f.seek(apparent - len(payload))
                f.write(payload)
            self.tree.files += 1
            paths.append(self.rel(p))
        dense = folder / "vm disk dense copy.img"  # the same bytes, every block allocated
        with open(dense, "wb") as f:
            f.write(payload + bytes(apparent - 2 * len(payload)) + payload)
        self.tree.files += 1
        paths.append(self.rel(dense))
        self.tree.groups.append(paths)
        lone = folder / "lone sparse.img"  # sparse, unique
        with open(lone, "wb") as f:
            f.write(self.content(4096))
            f.truncate(apparent)
        self.tree.files += 1
        self.tree.count("sparse files", 4)

    def symlinks(self) -> None:
        links = self.root / "Desktop" / "links"
        links.mkdir()
        target = self.name(self.folder())
        self.write(target, self.content(3000))
        os.symlink(target, links / "to a file")
        os.symlink(os.path.relpath(target, links), links / "relative to a file")
        os.symlink(self.root / "Documents", links / "to Documents")
        os.symlink("../..", links / "to an ancestor")  # a loop for anything that follows links
        os.symlink("nowhere/at/all.txt", links / "broken")
        os.symlink("loop b", links / "loop a")
        os.symlink("loop a", links / "loop b")
        self.tree.count("symlinks", 7)

    def empties(self, n: int) -> None:
        for _ in range(n):
            self.write(self.name(self.folder()), b"")
        self.tree.count("empty files", n)

    def junk(self) -> None:
        ds = self.content(6148)
        paths = []
        for folder in self.rng.sample(self.folders, min(12, len(self.folders))):
            self.write(folder / ".DS_Store", ds)
            paths.append(self.rel(folder / ".DS_Store"))
        self.tree.groups.append(paths)
        for folder in self.rng.sample(self.folders, min(6, len(self.folders))):
            self.write(folder / "~$budget.xlsx", self.content(165))
            self.write(folder / "download.crdownload", self.content(_size(self.rng, self.scale)))
        self.tree.count("junk files", len(paths) + 12)

    def awkward(self) -> None:
        """Awkward names, each a copy of a file elsewhere, plus one unique."""
        folder = self.root / "Shared" / "odd names"
        folder.mkdir()
        for name in AWKWARD_NAMES:
            data = self.content(_size(self.rng, self.scale))
            elsewhere = self.name(self.folder())
            self.write(elsewhere, data)
            path: Path | bytes = (
                os.path.join(os.fsencode(folder), name)
                if isinstance(name, bytes)
                else folder / name
            )
            self.write(path, data)
            self.tree.groups.append([self.rel(elsewhere), self.rel(path)])
        odd = os.fsencode(folder) + b"/\xe9\xe8 only latin-1 \n and newline"
        self.write(odd, self.content(999))
        self.tree.count("awkward names", len(AWKWARD_NAMES) + 1)

    def build(self) -> Tree:
        if self.root.exists():
            raise FileExistsError(f"{self.root} exists; choose a new folder")
        self.make_folders()
        photos = max(6, self.target // 160)
        self.photos(photos)
        self.hardlinks()
        self.sparse()
        self.symlinks()
        self.junk()
        self.awkward()
        self.empties(max(5, self.target // 250))
        self.duplicates(max(10, self.target // 8))
        self.uniques(max(0, self.target - self.tree.files))
        return self.tree


def build_tree(
    root: str | os.PathLike[str], files: int = 50_000, seed: int = 2019, scale: float = 1.0
) -> Tree:
    """Build the tree at ``root`` (which must not exist) and return what was planted."""
    tree = _Builder(Path(root), files, seed, scale).build()
    manifest = Path(f"{root}.manifest.json")
    manifest.write_text(
        json.dumps(
            {"files": tree.files, "bytes": tree.bytes, "counts": tree.counts, "groups": tree.groups}
        ),
        encoding="utf-8",
        errors="surrogateescape",
    )
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("root", help="folder to create (must not exist)")
    parser.add_argument(
        "--files", type=int, default=50_000, help="about how many files (default 50000)"
    )
    parser.add_argument(
        "--seed", type=int, default=2019, help="same seed, same tree (default 2019)"
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every file size (default 1)"
    )
    args = parser.parse_args()
    tree = build_tree(args.root, args.files, args.seed, args.scale)
    print(
        f"{tree.files:,} files, {tree.bytes / 1e6:,.0f} MB apparent, {len(tree.groups):,} planted groups"
    )
    for what, n in sorted(tree.counts.items()):
        print(f"  {what}: {n:,}")


if __name__ == "__main__":
    sys.exit(main())
