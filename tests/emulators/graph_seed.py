"""Seed a Graph emulator tenant: a realistic organisation, or a large one quickly."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from tests.emulators.graph_tenant import EPOCH, Drive, GiB, Item, MiB, Site, Tenant, User

PEOPLE = [
    ("Adele Vance", "adelev"),
    ("Alex Wilber", "alexw"),
    ("Diego Siciliani", "diegos"),
    ("Grady Archie", "gradya"),
    ("Isaiah Langer", "isaiahl"),
    ("Johanna Lorenz", "johannal"),
    ("Lee Gu", "leeg"),
    ("Megan Bowen", "meganb"),
]

SITES = [
    ("Finance", "Finance", ["Budgets", "Invoices/2024", "Invoices/2025", "Audit/Working papers"]),
    ("HR", "Human Resources", ["Policies", "Onboarding/Packs", "Reviews/2025"]),
    ("Marketing", "Marketing", ["Campaigns/Spring", "Campaigns/Autumn/Assets", "Brand"]),
    ("Engineering", "Engineering", ["Designs/Specs", "Releases/Archive", "Meetings"]),
    ("Legal", "Legal", ["Contracts/Signed", "Contracts/Drafts", "Templates"]),
]

OFFICE = ["docx", "xlsx", "pptx"]
OTHER = ["pdf", "png", "jpg", "csv", "txt", "zip", "mp4"]


@dataclass
class Seeded:
    """What a seeding put where, for tests to assert against."""

    users: list[User] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    files: list[tuple[Drive, Item]] = field(default_factory=list)
    duplicates: dict[str, list[tuple[Drive, Item]]] = field(default_factory=dict)
    recycled: list[tuple[Drive, Item]] = field(default_factory=list)

    @property
    def version_heavy(self) -> list[tuple[Drive, Item]]:
        return [(d, i) for d, i in self.files if len(i.versions) >= 20]


def _folders(tenant: Tenant, drive: Drive, paths: list[str], owner: User) -> list[Item]:
    made: dict[str, Item] = {}
    for path in paths:
        parent: Item | None = None
        so_far = ""
        for part in path.split("/"):
            so_far = f"{so_far}/{part}"
            if so_far not in made:
                made[so_far] = tenant.add_folder(drive, parent, part, owner)
            parent = made[so_far]
    return list(made.values())


def seed_realistic(tenant: Tenant, seed: int = 7) -> Seeded:
    """Five team sites with nested libraries, a OneDrive per person, version-heavy Office
    files, duplicates across sites and OneDrives, and a full recycle bin."""
    rng = random.Random(seed)
    out = Seeded()
    with tenant.lock:
        out.users = [tenant.add_user(name, alias) for name, alias in PEOPLE]
        shared = [(rng.randrange(1 << 30), rng.randint(20_000, 240_000)) for _ in range(12)]
        for index, (name, display, paths) in enumerate(SITES):
            site = tenant.add_site(name, display)
            out.sites.append(site)
            team = out.users[index : index + 3] or out.users[:3]
            library = tenant.add_library(site, "Documents", quota_total=(5 + index) * GiB)
            folders = _folders(tenant, library, paths, team[0])
            if index % 2 == 0:
                archive = tenant.add_library(site, "Archive", quota_total=2 * GiB)
                folders_archive = _folders(tenant, archive, ["Old"], team[0])
                for n in range(6):
                    _file(tenant, rng, out, archive, rng.choice(folders_archive), team, f"{n}")
            for n in range(40):
                _file(tenant, rng, out, library, rng.choice(folders + [None]), team, str(n))
            for n in range(3):
                # the same deck and spreadsheet saved into several sites
                dup_seed, dup_size = shared[(index + n) % len(shared)]
                item = tenant.add_file(
                    library,
                    rng.choice(folders),
                    f"Quarterly review {(index + n) % len(shared)}.pptx",
                    seed=dup_seed,
                    size=dup_size,
                    by=team[0],
                    modified=EPOCH - timedelta(days=rng.randint(5, 400)),
                    versions=rng.randint(0, 8),
                    editors=team,
                )
                out.files.append((library, item))
                out.duplicates.setdefault(item.quickxor, []).append((library, item))
            # a full recycle bin: deleted drafts still counting against the site quota
            for n in range(8):
                item = _file(tenant, rng, out, library, rng.choice(folders), team, f"old {n}")
                library.recycle(item, EPOCH - timedelta(days=rng.randint(1, 80)))
                out.files.remove((library, item))
                out.recycled.append((library, item))
        for number, user in enumerate(out.users):
            drive = tenant.add_onedrive(user)
            folders = _folders(
                tenant, drive, ["Documents/Notes", "Desktop", "Pictures/Camera Roll"], user
            )
            for n in range(15):
                _file(tenant, rng, out, drive, rng.choice(folders + [None]), [user], str(n))
            dup_seed, dup_size = shared[number % len(shared)]
            item = tenant.add_file(
                drive,
                None,
                f"Quarterly review {number % len(shared)} (copy).pptx",
                seed=dup_seed,
                size=dup_size,
                by=user,
                modified=EPOCH - timedelta(days=rng.randint(5, 300)),
            )
            out.files.append((drive, item))
            out.duplicates.setdefault(item.quickxor, []).append((drive, item))
            for n in range(3):
                item = _file(tenant, rng, out, drive, None, [user], f"deleted {n}")
                drive.recycle(item, EPOCH - timedelta(days=rng.randint(1, 60)))
                out.files.remove((drive, item))
                out.recycled.append((drive, item))
            tenant.followed[user.id] = [s.id for s in out.sites[number % 5 : number % 5 + 2]]
        out.duplicates = {k: v for k, v in out.duplicates.items() if len(v) > 1}
    return out


def _file(
    tenant: Tenant,
    rng: random.Random,
    out: Seeded,
    drive: Drive,
    parent: Item | None,
    team: list[User],
    tag: str,
) -> Item:
    office = rng.random() < 0.6
    ext = rng.choice(OFFICE if office else OTHER)
    stem = rng.choice(["Budget", "Minutes", "Plan", "Report", "Draft", "Notes", "Scan", "Photo"])
    size = rng.randint(2_000, 200_000) if ext != "mp4" else rng.randint(300_000, 2 * MiB)
    versions = rng.choice([0, 1, 3, 12, 25, 60]) if office else 0
    item = tenant.add_file(
        drive,
        parent,
        f"{stem} {tag}.{ext}",
        seed=rng.randrange(1 << 30),
        size=size,
        by=team[0],
        modified=EPOCH - timedelta(days=rng.randint(0, 1500), minutes=rng.randint(0, 1440)),
        versions=versions,
        editors=team,
    )
    out.files.append((drive, item))
    return item


def seed_bulk(tenant: Tenant, items: int = 20_000, sites: int = 5, seed: int = 11) -> Seeded:
    """A large tenant quickly: `items` files and folders spread over `sites` team sites."""
    rng = random.Random(seed)
    out = Seeded()
    with tenant.lock:
        owner = tenant.add_user("Bulk Owner", f"bulk{seed}")
        out.users.append(owner)
        per_site = items // sites
        for number in range(sites):
            site = tenant.add_site(f"bulk{seed}-{number}", f"Bulk site {number}")
            out.sites.append(site)
            drive = tenant.add_library(site, "Documents", quota_total=100 * GiB)
            count = per_site + (1 if number < items % sites else 0)
            folders: list[Item | None] = [None]
            made = 0
            while made < count:
                if made % 50 == 0 and made + 1 < count:
                    folders.append(
                        tenant.add_folder(drive, rng.choice(folders), f"Folder {made}", owner)
                    )
                    made += 1
                    continue
                size = rng.randint(64, 2048)
                item = tenant.add_file(
                    drive,
                    rng.choice(folders),
                    f"file {made}.{rng.choice(OFFICE + OTHER)}",
                    seed=rng.randrange(1 << 30),
                    size=size,
                    by=owner,
                    modified=EPOCH - timedelta(days=rng.randint(0, 2000)),
                    versions=rng.choice([0, 0, 0, 2]),
                )
                out.files.append((drive, item))
                made += 1
    return out
