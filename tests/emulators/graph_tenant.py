"""In-memory Microsoft 365 tenant behind the Graph emulator: users, sites, drives, items, versions."""

from __future__ import annotations

import base64
import itertools
import json
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cleanup.quickxor import quickxor_bytes

HOST = "contoso.sharepoint.com"
GiB = 1024**3
MiB = 1024**2
EPOCH = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

MIME = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "mp4": "video/mp4",
    "zip": "application/zip",
    "txt": "text/plain",
    "csv": "text/csv",
}


def iso(moment: datetime) -> str:
    """Graph's timestamp format."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def content_bytes(seed: int, size: int) -> bytes:
    """The bytes of a seeded file: the same (seed, size) always gives the same content."""
    return random.Random(seed).randbytes(size)


@dataclass
class User:
    id: str
    display_name: str
    mail: str

    def identity(self) -> dict[str, object]:
        return {"user": {"id": self.id, "displayName": self.display_name, "email": self.mail}}

    def resource(self) -> dict[str, object]:
        return {
            "id": self.id,
            "displayName": self.display_name,
            "mail": self.mail,
            "userPrincipalName": self.mail,
        }


@dataclass
class Version:
    id: str
    size: int
    modified: datetime
    modified_by: User


@dataclass
class Item:
    id: str
    name: str
    parent_id: str | None
    folder: bool
    created: datetime
    modified: datetime
    created_by: User
    modified_by: User
    size: int = 0
    seed: int = 0
    quickxor: str = ""
    mime: str = ""
    etag_n: int = 1
    ctag_n: int = 1
    seq: int = 0
    child_count: int = 0
    deleted: bool = False  # in the recycle bin
    purged: bool = False  # gone for good; kept so delta can report it
    deleted_at: datetime | None = None
    # older versions, oldest first; the current version is implied by the item itself
    versions: list[Version] = field(default_factory=list)
    version_major: int = 1
    guid: str = field(default_factory=lambda: str(uuid.uuid4()).upper())

    @property
    def etag(self) -> str:
        return f'"{{{self.guid}}},{self.etag_n}"'

    @property
    def ctag(self) -> str:
        return f'"c:{{{self.guid}}},{self.ctag_n}"'

    @property
    def versions_bytes(self) -> int:
        return sum(v.size for v in self.versions)


@dataclass
class BinEntry:
    """Something in a drive's recycle bin: a whole item or a deleted version of one."""

    item_id: str
    size: int
    deleted_at: datetime
    version_id: str | None = None
    name: str = ""
    location: str = ""  # deletedFromLocation: the library and folder it was deleted from
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def resource(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "deletedDateTime": iso(self.deleted_at),
            "deletedFromLocation": self.location,
        }


class Drive:
    """One document library or OneDrive, with its items and change sequence."""

    def __init__(
        self,
        tenant: Tenant,
        drive_id: str,
        name: str,
        drive_type: str,
        web_url: str,
        owner: dict[str, object],
        quota_total: int,
    ) -> None:
        self.tenant = tenant
        self.id = drive_id
        self.name = name
        self.drive_type = drive_type
        self.web_url = web_url
        self.owner = owner
        self.quota_total = quota_total
        self.items: dict[str, Item] = {}
        self.bin: list[BinEntry] = []
        self.oldest_valid_token = 0
        system = tenant.system_user
        root = Item(
            id=tenant.new_item_id(),
            name="root",
            parent_id=None,
            folder=True,
            created=EPOCH - timedelta(days=900),
            modified=EPOCH - timedelta(days=900),
            created_by=system,
            modified_by=system,
        )
        self.root_id = root.id
        root.seq = tenant.next_seq()
        self.items[root.id] = root

    # ---- reading -------------------------------------------------------------------

    def live(self, item_id: str) -> Item | None:
        """The item if it exists and is not in the recycle bin."""
        item = self.items.get(item_id)
        if item is None or item.deleted or item.purged:
            return None
        return item

    def path_of(self, item: Item) -> str:
        """Graph's parentReference.path for the item's parent: /drive/root:/A/B."""
        parts: list[str] = []
        parent = self.items.get(item.parent_id) if item.parent_id else None
        while parent is not None and parent.parent_id is not None:
            parts.append(parent.name)
            parent = self.items.get(parent.parent_id)
        return "/drive/root:" + "".join("/" + p for p in reversed(parts))

    def location_of(self, item: Item) -> str:
        """The library and folder an item sits in, as the recycle bin records it."""
        library = self.web_url.rstrip("/").rsplit("/", 1)[-1].replace("%20", " ")
        return library + self.path_of(item)[len("/drive/root:") :]

    def used_bytes(self) -> int:
        live = sum(
            i.size + i.versions_bytes
            for i in self.items.values()
            if not i.folder and not i.deleted and not i.purged
        )
        return live + self.deleted_bytes()

    def deleted_bytes(self) -> int:
        return sum(entry.size for entry in self.bin)

    def quota(self) -> dict[str, object]:
        used = self.used_bytes()
        remaining = max(0, self.quota_total - used)
        ratio = used / self.quota_total if self.quota_total else 0
        state = (
            "exceeded"
            if ratio >= 1
            else "critical"
            if ratio >= 0.99
            else "nearing"
            if ratio >= 0.9
            else "normal"
        )
        return {
            "total": self.quota_total,
            "used": used,
            "remaining": remaining,
            "deleted": self.deleted_bytes(),
            "state": state,
        }

    def resource(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "driveType": self.drive_type,
            "webUrl": self.web_url,
            "createdDateTime": iso(self.items[self.root_id].created),
            "owner": self.owner,
            "quota": self.quota(),
        }

    # ---- changing ------------------------------------------------------------------

    def touch(self, item: Item, *, content: bool = False) -> None:
        """Record a change: the item and its ancestors move to the end of the change log."""
        item.seq = self.tenant.next_seq()
        item.etag_n += 1
        if content or item.folder:
            item.ctag_n += 1
        parent = self.items.get(item.parent_id) if item.parent_id else None
        while parent is not None:
            parent.seq = self.tenant.next_seq()
            parent.ctag_n += 1
            parent = self.items.get(parent.parent_id) if parent.parent_id else None

    def add(self, item: Item) -> Item:
        item.seq = self.tenant.next_seq()
        self.items[item.id] = item
        parent = self.items[item.parent_id] if item.parent_id else None
        if parent is not None:
            parent.child_count += 1
        return item

    def subtree(self, item: Item) -> list[Item]:
        """The item and every live descendant."""
        children: dict[str, list[Item]] = {}
        for candidate in self.items.values():
            if candidate.parent_id and not candidate.deleted and not candidate.purged:
                children.setdefault(candidate.parent_id, []).append(candidate)
        found = [item]
        stack = [item]
        while stack:
            for child in children.get(stack.pop().id, []):
                found.append(child)
                stack.append(child)
        return found

    def recycle(self, item: Item, when: datetime) -> None:
        """Move the item (and a folder's contents) to the recycle bin."""
        for member in self.subtree(item):
            member.deleted = True
            member.deleted_at = when
            member.seq = self.tenant.next_seq()
            if not member.folder:
                self.bin.append(
                    BinEntry(
                        member.id,
                        member.size + member.versions_bytes,
                        when,
                        name=member.name,
                        location=self.location_of(member),
                    )
                )
        self._detach(item)

    def purge(self, item: Item) -> None:
        """Delete the item (and a folder's contents) for good, freeing its storage at once."""
        for member in self.subtree(item):
            member.purged = True
            member.seq = self.tenant.next_seq()
        self._detach(item)

    def restore(self, item: Item) -> None:
        """Bring an item back from the recycle bin to where it was."""
        members = [i for i in self.items.values() if i.deleted and i.deleted_at == item.deleted_at]
        ids = {m.id for m in members}
        self.bin = [e for e in self.bin if not (e.item_id in ids and e.version_id is None)]
        for member in members:
            member.deleted = False
            member.deleted_at = None
            member.seq = self.tenant.next_seq()
        parent = self.items.get(item.parent_id) if item.parent_id else None
        if parent is not None:
            parent.child_count += 1
            self.touch(parent)

    def empty_bin(self) -> int:
        """Empty the recycle bin (both stages), as a site admin would; returns bytes freed."""
        freed = self.deleted_bytes()
        for entry in self.bin:
            item = self.items.get(entry.item_id)
            if entry.version_id is None and item is not None and item.deleted:
                item.purged = True
                item.seq = self.tenant.next_seq()
        self.bin = []
        return freed

    def _detach(self, item: Item) -> None:
        parent = self.items.get(item.parent_id) if item.parent_id else None
        if parent is not None:
            parent.child_count = max(0, parent.child_count - 1)
            self.touch(parent)

    def delta_page(
        self, since: int, upto: int, after: tuple[int, str] | None, top: int
    ) -> tuple[list[Item], tuple[int, str] | None]:
        """One page of the change log between two sequence numbers, in log order."""
        initial = since == 0
        selected = []
        for item in self.items.values():
            if not since < item.seq <= upto:
                continue
            if initial and (item.deleted or item.purged):
                continue
            # the root leads every round, as Graph lists it first
            key = (-1, "") if item.parent_id is None else (item.seq, item.id)
            if after is not None and key <= after:
                continue
            selected.append((key, item))
        selected.sort(key=lambda pair: pair[0])
        page = selected[:top]
        more = len(selected) > top
        last = page[-1][0] if page and more else None
        return [item for _, item in page], last


class Site:
    def __init__(self, site_id: str, name: str, display_name: str, created: datetime) -> None:
        self.id = site_id
        self.name = name
        self.display_name = display_name
        self.created = created
        self.drives: list[Drive] = []

    def resource(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "displayName": self.display_name,
            "webUrl": f"https://{HOST}/sites/{self.name}",
            "createdDateTime": iso(self.created),
            "lastModifiedDateTime": iso(EPOCH),
            "siteCollection": {"hostname": HOST},
        }


@dataclass
class App:
    """An app registration: how it may sign in and what it has been granted."""

    client_id: str
    display_name: str
    secret: str | None = None
    secret_expired: bool = False
    certificate_pem: bytes | None = None  # public certificate, PEM
    public_client: bool = False
    application_roles: set[str] = field(default_factory=set)  # admin-consented app roles
    delegated_scopes: set[str] = field(default_factory=set)  # consented delegated scopes


class Tenant:
    """Everything the emulator serves, guarded by one lock."""

    def __init__(self, domain: str = "contoso.onmicrosoft.com") -> None:
        self.lock = threading.RLock()
        self.id = str(uuid.UUID(int=random.Random(domain).getrandbits(128)))
        self.domain = domain
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self.users: dict[str, User] = {}
        self.sites: dict[str, Site] = {}
        self.drives: dict[str, Drive] = {}
        self.onedrives: dict[str, Drive] = {}  # user id -> drive
        self.followed: dict[str, list[str]] = {}  # user id -> site ids
        self.apps: dict[str, App] = {}
        self.system_user = User("00000000-0000-0000-0000-000000000001", "System Account", "")

    def next_seq(self) -> int:
        return next(self._seq)

    @property
    def last_seq(self) -> int:
        """The newest sequence number handed out (without consuming one)."""
        value = next(self._seq)
        self._seq = itertools.count(value)
        return value - 1

    def new_item_id(self) -> str:
        # OneDrive for Business item ids: 34 characters of base32 starting with 01
        raw = next(self._ids).to_bytes(20, "big")
        return "01" + base64.b32encode(raw).decode()[:32]

    # ---- building ------------------------------------------------------------------

    def add_user(self, display_name: str, alias: str) -> User:
        user_id = str(uuid.UUID(int=random.Random(alias).getrandbits(128)))
        user = User(user_id, display_name, f"{alias}@{self.domain.split('.')[0]}.com")
        self.users[user.id] = user
        return user

    def add_site(self, name: str, display_name: str) -> Site:
        rng = random.Random(name)
        site_id = (
            f"{HOST},{uuid.UUID(int=rng.getrandbits(128))},{uuid.UUID(int=rng.getrandbits(128))}"
        )
        site = Site(site_id, name, display_name, EPOCH - timedelta(days=rng.randint(400, 2000)))
        self.sites[site.id] = site
        return site

    def add_library(self, site: Site, name: str, quota_total: int = 25 * 1024 * GiB) -> Drive:
        drive_id = "b!" + base64.urlsafe_b64encode(
            uuid.uuid5(uuid.NAMESPACE_URL, site.id + name).bytes * 2
        ).decode().rstrip("=")
        drive = Drive(
            self,
            drive_id,
            name,
            "documentLibrary",
            f"https://{HOST}/sites/{site.name}/{name.replace(' ', '%20')}",
            {"group": {"id": site.id.split(",")[1], "displayName": site.display_name + " Owners"}},
            quota_total,
        )
        site.drives.append(drive)
        self.drives[drive.id] = drive
        return drive

    def add_onedrive(self, user: User, quota_total: int = 1024 * GiB) -> Drive:
        drive_id = "b!" + base64.urlsafe_b64encode(
            uuid.uuid5(uuid.NAMESPACE_URL, "onedrive:" + user.id).bytes * 2
        ).decode().rstrip("=")
        alias = user.mail.split("@")[0]
        drive = Drive(
            self,
            drive_id,
            "OneDrive",
            "business",
            f"https://contoso-my.sharepoint.com/personal/{alias}/Documents",
            {"user": {"id": user.id, "displayName": user.display_name, "email": user.mail}},
            quota_total,
        )
        self.drives[drive.id] = drive
        self.onedrives[user.id] = drive
        return drive

    def add_folder(self, drive: Drive, parent: Item | None, name: str, by: User) -> Item:
        parent_id = parent.id if parent else drive.root_id
        when = EPOCH - timedelta(days=700)
        return drive.add(Item(self.new_item_id(), name, parent_id, True, when, when, by, by))

    def add_file(
        self,
        drive: Drive,
        parent: Item | None,
        name: str,
        *,
        seed: int,
        size: int,
        by: User,
        modified: datetime,
        versions: int = 0,
        editors: list[User] | None = None,
        quickxor: str | None = None,
    ) -> Item:
        """A file whose content is content_bytes(seed, size), with older versions if asked."""
        parent_id = parent.id if parent else drive.root_id
        ext = name.rsplit(".", 1)[-1].lower()
        rng = random.Random(seed * 31 + versions)
        created = modified - timedelta(days=versions * 3 + rng.randint(0, 30))
        item = Item(
            self.new_item_id(),
            name,
            parent_id,
            False,
            created,
            modified,
            by,
            (editors or [by])[-1],
            size=size,
            seed=seed,
            quickxor=quickxor
            if quickxor is not None
            else quickxor_bytes(content_bytes(seed, size)),
            mime=MIME.get(ext, "application/octet-stream"),
        )
        people = editors or [by]
        for n in range(versions):
            item.versions.append(
                Version(
                    f"{n + 1}.0",
                    max(1, int(size * rng.uniform(0.6, 1.0))),
                    created + timedelta(days=3 * n, minutes=rng.randint(0, 600)),
                    people[n % len(people)],
                )
            )
        item.version_major = versions + 1
        item.etag_n = versions + 1
        item.ctag_n = versions + 1
        return drive.add(item)


def encode_token(payload: dict[str, object]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, object]:
    padded = token + "=" * (-len(token) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(value, dict):
        raise ValueError("not a token")
    return value
