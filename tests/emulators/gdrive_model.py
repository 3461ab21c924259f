"""What the Drive v3 emulator holds: users, shared drives, files, revisions and a change log.

Rules follow the Drive v3 reference: checksums only for binary content, `quotaBytesUsed`
counts the head revision plus revisions kept forever, shortcuts and folders use no quota,
`owners` is not populated in shared drives, only the owner (or a shared-drive organizer)
may trash, a folder's trash state reaches its descendants.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import string
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.emulators.gdrive_wire import ApiError, insufficient_file_permissions, not_found

FOLDER = "application/vnd.google-apps.folder"
SHORTCUT = "application/vnd.google-apps.shortcut"
DOC = "application/vnd.google-apps.document"
SHEET = "application/vnd.google-apps.spreadsheet"
SLIDES = "application/vnd.google-apps.presentation"
GOOGLE_PREFIX = "application/vnd.google-apps."

ID_CHARS = string.ascii_letters + string.digits + "-_"
EDIT_ROLES = {"owner", "organizer", "fileOrganizer", "writer"}
READ_ROLES = EDIT_ROLES | {"commenter", "reader"}


def rfc3339(t: dt.datetime) -> str:
    t = t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_time(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class User:
    email: str
    display_name: str
    permission_id: str
    root_id: str
    quota_limit: int | None = 15 * 1024**3
    other_usage: int = 0  # Gmail and Photos: counted in `usage`, not in `usageInDrive`
    is_admin: bool = False
    suspended: bool = False
    directory_id: str = ""
    robot: bool = False  # a service account acting as itself: not listed by the Directory


@dataclass
class SharedDrive:
    id: str
    name: str
    members: dict[str, str]  # email -> organizer | fileOrganizer | writer | commenter | reader
    created: dt.datetime
    hidden: bool = False


@dataclass
class Revision:
    id: str
    modified: dt.datetime
    size: int | None
    md5: str | None
    keep_forever: bool = False
    modifier: str | None = None


@dataclass
class DriveFile:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    owner: str | None  # None inside a shared drive
    drive_id: str | None
    created: dt.datetime
    modified: dt.datetime
    size: int | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    explicitly_trashed: bool = False
    trashed_time: dt.datetime | None = None
    trashing_user: str | None = None
    permissions: dict[str, str] = field(default_factory=dict)  # email -> role (besides owner)
    viewed: dict[str, dt.datetime] = field(default_factory=dict)  # email -> viewedByMeTime
    revisions: list[Revision] = field(default_factory=list)
    shortcut_target: str | None = None
    shortcut_target_mime: str | None = None
    version: int = 1
    last_modifier: str | None = None
    starred: bool = False
    seq: int = 0
    is_root: bool = False

    @property
    def binary(self) -> bool:
        return not self.mime_type.startswith(GOOGLE_PREFIX)

    def quota_bytes(self) -> int:
        if self.mime_type in (FOLDER, SHORTCUT) or self.is_root:
            return 0
        if not self.binary:
            return self.size or 0
        head = self.revisions[-1] if self.revisions else None
        total = self.size or 0
        for rev in self.revisions:
            if rev is not head and rev.keep_forever:
                total += rev.size or 0
        return total


@dataclass
class Change:
    id: int
    file_id: str
    time: dt.datetime
    removed: bool
    drive_id: str | None
    audience: frozenset[str]


class DriveState:
    """All of the emulator's data, behind one lock."""

    def __init__(self, seed: int = 0, clock: Any = None) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.users: dict[str, User] = {}
        self.drives: dict[str, SharedDrive] = {}
        self.files: dict[str, DriveFile] = {}
        self.children: dict[str, set[str]] = {}
        self.changes: list[Change] = []
        self._seq = 0
        self._gen = 0
        self._trash_cache: dict[str, bool] = {}
        self._trash_gen = -1

    # ------------------------------------------------------------------ ids and time

    def new_id(self, prefix: str = "1", length: int = 33) -> str:
        return prefix + "".join(self.rng.choice(ID_CHARS) for _ in range(length - len(prefix)))

    def now(self) -> dt.datetime:
        return self.clock()

    # ------------------------------------------------------------------ seeding

    def add_user(
        self,
        email: str,
        display_name: str | None = None,
        *,
        quota_limit: int | None = 15 * 1024**3,
        other_usage: int = 0,
        is_admin: bool = False,
        suspended: bool = False,
    ) -> User:
        with self.lock:
            if email in self.users:
                return self.users[email]
            root_id = "0A" + "".join(self.rng.choice(ID_CHARS) for _ in range(13)) + "Uk9PVA"
            user = User(
                email=email,
                display_name=display_name or email.split("@")[0].replace(".", " ").title(),
                permission_id=str(self.rng.randrange(10**19, 10**20)),
                root_id=root_id,
                quota_limit=quota_limit,
                other_usage=other_usage,
                is_admin=is_admin,
                suspended=suspended,
                directory_id=str(self.rng.randrange(10**20, 10**21)),
            )
            self.users[email] = user
            root = DriveFile(
                id=root_id,
                name="My Drive",
                mime_type=FOLDER,
                parents=[],
                owner=email,
                drive_id=None,
                created=self.now(),
                modified=self.now(),
                is_root=True,
            )
            self._insert(root, log=False)
            return user

    def add_shared_drive(self, name: str, members: dict[str, str]) -> SharedDrive:
        with self.lock:
            drive_id = "0A" + "".join(self.rng.choice(ID_CHARS) for _ in range(13)) + "Uk9PVA"
            drive = SharedDrive(id=drive_id, name=name, members=dict(members), created=self.now())
            self.drives[drive_id] = drive
            root = DriveFile(
                id=drive_id,
                name=name,
                mime_type=FOLDER,
                parents=[],
                owner=None,
                drive_id=drive_id,
                created=self.now(),
                modified=self.now(),
                is_root=True,
            )
            self._insert(root, log=False)
            return drive

    def add_file(
        self,
        name: str,
        *,
        owner: str | None = None,
        parent: str | None = None,
        drive: str | None = None,
        mime_type: str = "application/octet-stream",
        content: bytes | None = None,
        size: int | None = None,
        md5: str | None = None,
        sha256: str | None = None,
        created: str | dt.datetime | None = None,
        modified: str | dt.datetime | None = None,
        viewed: str | dt.datetime | None = None,
        trashed: bool = False,
        shared_with: dict[str, str] | None = None,
        revisions: list[dict[str, Any]] | None = None,
        shortcut_to: str | None = None,
        file_id: str | None = None,
        log: bool = True,
    ) -> DriveFile:
        """Add a file. Binary content gets md5/sha1/sha256 from `content` (or the given md5)."""
        with self.lock:
            if drive is None and parent is not None and parent in self.files:
                drive = self.files[parent].drive_id
            if drive is not None:
                owner = None
                parents = [parent or drive]
            else:
                if owner is None:
                    raise ValueError("a My Drive file needs an owner")
                self.add_user(owner)
                parents = [parent or self.users[owner].root_id]
            now = self.now()
            modified_t = parse_time(modified) or now
            created_t = parse_time(created) or modified_t
            f = DriveFile(
                id=file_id or self.new_id(),
                name=name,
                mime_type=mime_type,
                parents=parents,
                owner=owner,
                drive_id=drive,
                created=created_t,
                modified=modified_t,
                permissions=dict(shared_with or {}),
                last_modifier=owner,
            )
            if viewed is not None and owner is not None:
                f.viewed[owner] = parse_time(viewed)  # type: ignore[assignment]
            if shortcut_to is not None:
                target = self.files[shortcut_to]
                f.mime_type = SHORTCUT
                f.shortcut_target = target.id
                f.shortcut_target_mime = target.mime_type
            elif f.binary:
                for rev in revisions or []:
                    rev_content = rev.get("content")
                    rev_size = len(rev_content) if rev_content is not None else rev.get("size", 0)
                    rev_md5 = (
                        hashlib.md5(rev_content).hexdigest()
                        if rev_content is not None
                        else rev.get("md5")
                    )
                    f.revisions.append(
                        Revision(
                            id=self.new_id("0B", 51),
                            modified=parse_time(rev.get("modified")) or created_t,
                            size=rev_size,
                            md5=rev_md5 or self._fake_md5(f.id, len(f.revisions)),
                            keep_forever=bool(rev.get("keep_forever", False)),
                            modifier=owner,
                        )
                    )
                self._set_content(
                    f, content=content, size=size, md5=md5, sha256=sha256, when=modified_t
                )
            else:
                f.size = size  # Workspace editor files: size only when the caller gives one
                for n in range(len(revisions or []) + 1):
                    f.revisions.append(
                        Revision(id=str(n + 1), modified=modified_t, size=None, md5=None)
                    )
            if trashed:
                f.explicitly_trashed = True
                f.trashed_time = modified_t
                f.trashing_user = owner
            self._insert(f, log=log)
            return f

    def _fake_md5(self, file_id: str, n: int) -> str:
        return hashlib.md5(f"{file_id}:{n}".encode()).hexdigest()

    def _set_content(
        self,
        f: DriveFile,
        *,
        content: bytes | None,
        size: int | None,
        md5: str | None,
        sha256: str | None,
        when: dt.datetime,
    ) -> None:
        if content is not None:
            f.size = len(content)
            f.md5 = hashlib.md5(content).hexdigest()
            f.sha1 = hashlib.sha1(content).hexdigest()
            f.sha256 = hashlib.sha256(content).hexdigest()
        else:
            f.size = size if size is not None else 0
            f.md5 = md5 or self._fake_md5(f.id, len(f.revisions))
            # Without content the other digests are stand-ins derived from md5 and size.
            f.sha1 = hashlib.sha1(f"{f.md5}:{f.size}".encode()).hexdigest()
            f.sha256 = sha256 or hashlib.sha256(f"{f.md5}:{f.size}".encode()).hexdigest()
        f.revisions.append(
            Revision(
                id=self.new_id("0B", 51), modified=when, size=f.size, md5=f.md5, modifier=f.owner
            )
        )

    def _insert(self, f: DriveFile, *, log: bool) -> None:
        self._seq += 1
        f.seq = self._seq
        self.files[f.id] = f
        for p in f.parents:
            self.children.setdefault(p, set()).add(f.id)
        self._gen += 1
        if log:
            self.log_change(f)

    # ------------------------------------------------------------------ changes

    def audience(self, f: DriveFile) -> frozenset[str]:
        people = set()
        node: DriveFile | None = f
        seen = 0
        while node is not None and seen < 100:
            if node.owner:
                people.add(node.owner)
            people.update(node.permissions)
            node = self.files.get(node.parents[0]) if node.parents else None
            seen += 1
        return frozenset(people)

    def log_change(self, f: DriveFile, removed: bool = False) -> Change:
        change = Change(
            id=len(self.changes) + 1,
            file_id=f.id,
            time=self.now(),
            removed=removed,
            drive_id=f.drive_id,
            audience=self.audience(f),
        )
        self.changes.append(change)
        return change

    def start_page_token(self) -> str:
        return str(len(self.changes) + 1)

    # ------------------------------------------------------------------ mutations (seeding side)

    def touch(self, f: DriveFile, by: str | None = None) -> None:
        f.version += 1
        f.modified = self.now()
        f.last_modifier = by or f.owner
        self._gen += 1
        self.log_change(f)

    def edit_content(
        self,
        file_id: str,
        content: bytes | None = None,
        *,
        size: int | None = None,
        md5: str | None = None,
        by: str | None = None,
    ) -> DriveFile:
        """A new head revision, as when someone uploads a new version."""
        with self.lock:
            f = self.files[file_id]
            when = self.now()
            self._set_content(f, content=content, size=size, md5=md5, sha256=None, when=when)
            self.touch(f, by)
            return f

    def rename(self, file_id: str, name: str, by: str | None = None) -> DriveFile:
        with self.lock:
            f = self.files[file_id]
            f.name = name
            self.touch(f, by)
            return f

    # ------------------------------------------------------------------ queries

    def is_trashed(self, f: DriveFile) -> bool:
        if self._trash_gen != self._gen:
            self._trash_cache = {}
            self._trash_gen = self._gen
        cached = self._trash_cache.get(f.id)
        if cached is not None:
            return cached
        chain = []
        node: DriveFile | None = f
        result = False
        while node is not None:
            hit = self._trash_cache.get(node.id)
            if hit is not None:
                result = hit
                break
            chain.append(node)
            if node.explicitly_trashed:
                result = True
                break
            node = self.files.get(node.parents[0]) if node.parents else None
        for n in chain:
            self._trash_cache[n.id] = result
        return result

    def role(self, user: str, f: DriveFile) -> str | None:
        """The user's effective role on a file, inherited through its folders."""
        if f.drive_id is not None:
            drive = self.drives.get(f.drive_id)
            role = drive.members.get(user) if drive else None
            return role or f.permissions.get(user)
        node: DriveFile | None = f
        depth = 0
        best: str | None = None
        while node is not None and depth < 200:
            if node.owner == user:
                return "owner" if node is f else (best or "writer")
            role = node.permissions.get(user)
            if role and (best is None or role in EDIT_ROLES):
                best = role
            node = self.files.get(node.parents[0]) if node.parents else None
            depth += 1
        return best

    def visible(self, user: str, f: DriveFile) -> bool:
        return self.role(user, f) in READ_ROLES

    def file_for(self, user: str, file_id: str, all_drives: bool) -> DriveFile:
        """Look a file up as `user` sees it: 404 when it is unknown or out of reach."""
        u = self.users.get(user)
        if file_id == "root" and u is not None:
            file_id = u.root_id
        f = self.files.get(file_id)
        if f is None or not self.visible(user, f):
            raise not_found(file_id)
        if f.drive_id is not None and not all_drives:
            raise not_found(file_id)
        return f

    def capabilities(self, user: str, f: DriveFile) -> dict[str, bool]:
        role = self.role(user, f)
        edit = role in EDIT_ROLES
        if f.drive_id is not None:
            can_trash = role in ("organizer", "fileOrganizer")
            can_delete = role == "organizer"
        else:
            can_trash = role == "owner"
            can_delete = role == "owner"
        folder = f.mime_type == FOLDER
        return {
            "canEdit": edit,
            "canModifyContent": edit and f.mime_type != FOLDER,
            "canRename": edit,
            "canTrash": can_trash and not f.is_root,
            "canUntrash": can_trash and not f.is_root,
            "canDelete": can_delete and not f.is_root,
            "canReadRevisions": edit and not folder,
            "canDownload": f.mime_type != FOLDER,
            "canCopy": not folder,
            "canComment": role in ("owner", "organizer", "fileOrganizer", "writer", "commenter"),
            "canShare": edit,
            "canAddChildren": folder and edit,
            "canListChildren": folder,
            "canMoveItemWithinDrive": edit,
            "canRemoveMyDriveParent": f.drive_id is None and edit,
            "canAddMyDriveParent": f.drive_id is None and edit,
            "canChangeViewersCanCopyContent": edit,
        }

    def user_json(self, email: str, viewer: str) -> dict[str, Any]:
        u = self.users.get(email)
        return {
            "kind": "drive#user",
            "displayName": u.display_name if u else email,
            "emailAddress": email,
            "permissionId": u.permission_id if u else "0",
            "me": email == viewer,
            "photoLink": "https://lh3.googleusercontent.com/a/default-user=s64",
        }

    def file_json(self, f: DriveFile, viewer: str) -> dict[str, Any]:
        """The full File resource as `viewer` sees it."""
        trashed = self.is_trashed(f)
        out: dict[str, Any] = {
            "kind": "drive#file",
            "id": f.id,
            "name": f.name,
            "mimeType": f.mime_type,
            "starred": f.starred,
            "trashed": trashed,
            "explicitlyTrashed": f.explicitly_trashed,
            "spaces": ["drive"],
            "version": str(f.version),
            "webViewLink": f"https://drive.google.com/file/d/{f.id}/view?usp=drivesdk",
            "iconLink": f"https://drive-thirdparty.googleusercontent.com/16/type/{f.mime_type}",
            "hasThumbnail": False,
            "viewedByMe": viewer in f.viewed,
            "createdTime": rfc3339(f.created),
            "modifiedTime": rfc3339(f.modified),
            "modifiedByMe": f.last_modifier == viewer,
            "shared": bool(f.permissions),
            "ownedByMe": f.owner == viewer,
            "capabilities": self.capabilities(viewer, f),
            "viewersCanCopyContent": True,
            "copyRequiresWriterPermission": False,
            "writersCanShare": True,
            "isAppAuthorized": False,
            "quotaBytesUsed": str(f.quota_bytes()),
            "permissionIds": ([self.users[f.owner].permission_id] if f.owner in self.users else []),
        }
        if f.parents:
            out["parents"] = list(f.parents)
        if f.owner is not None:
            out["owners"] = [self.user_json(f.owner, viewer)]
        if f.drive_id is not None:
            out["driveId"] = f.drive_id
            out["teamDriveId"] = f.drive_id
        if f.last_modifier:
            out["lastModifyingUser"] = self.user_json(f.last_modifier, viewer)
        if viewer in f.viewed:
            out["viewedByMeTime"] = rfc3339(f.viewed[viewer])
        if f.last_modifier == viewer:
            out["modifiedByMeTime"] = rfc3339(f.modified)
        if trashed and f.explicitly_trashed and f.trashed_time:
            out["trashedTime"] = rfc3339(f.trashed_time)
            if f.trashing_user:
                out["trashingUser"] = self.user_json(f.trashing_user, viewer)
        if f.size is not None and f.mime_type not in (FOLDER, SHORTCUT):
            out["size"] = str(f.size)
        if f.binary:
            out["md5Checksum"] = f.md5
            out["sha1Checksum"] = f.sha1
            out["sha256Checksum"] = f.sha256
            out["headRevisionId"] = f.revisions[-1].id if f.revisions else None
            out["originalFilename"] = f.name
            if "." in f.name:
                out["fileExtension"] = f.name.rsplit(".", 1)[1]
                out["fullFileExtension"] = f.name.split(".", 1)[1]
            out["webContentLink"] = f"https://drive.google.com/uc?id={f.id}&export=download"
        if f.mime_type == SHORTCUT:
            out["shortcutDetails"] = {
                "targetId": f.shortcut_target,
                "targetMimeType": f.shortcut_target_mime,
            }
        if f.mime_type in (DOC, SHEET, SLIDES):
            out["exportLinks"] = {
                "application/pdf": f"https://docs.google.com/feeds/download/{f.id}?exportFormat=pdf"
            }
        return out

    def revision_json(self, f: DriveFile, rev: Revision, viewer: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "drive#revision",
            "id": rev.id,
            "mimeType": f.mime_type,
            "modifiedTime": rfc3339(rev.modified),
        }
        if rev.modifier:
            out["lastModifyingUser"] = self.user_json(rev.modifier, viewer)
        if f.binary:
            out["keepForever"] = rev.keep_forever
            out["md5Checksum"] = rev.md5
            out["size"] = str(rev.size or 0)
            out["originalFilename"] = f.name
        else:
            out["published"] = False
            out["exportLinks"] = {
                "application/pdf": f"https://docs.google.com/feeds/download/{f.id}?exportFormat=pdf"
            }
        return out

    # ------------------------------------------------------------------ actions

    def require(self, ok: bool) -> None:
        if not ok:
            raise insufficient_file_permissions()

    def set_trashed(self, user: str, f: DriveFile, trashed: bool) -> None:
        caps = self.capabilities(user, f)
        self.require(caps["canTrash"] if trashed else caps["canUntrash"])
        if f.explicitly_trashed == trashed:
            return
        f.explicitly_trashed = trashed
        f.trashed_time = self.now() if trashed else None
        f.trashing_user = user if trashed else None
        f.version += 1
        self._gen += 1
        self.log_change(f)
        for d in self.descendants(f):
            d.version += 1
            self.log_change(d)

    def descendants(self, f: DriveFile) -> list[DriveFile]:
        out: list[DriveFile] = []
        stack = [f.id]
        while stack:
            for cid in sorted(self.children.get(stack.pop(), ())):
                c = self.files.get(cid)
                if c is not None:
                    out.append(c)
                    stack.append(cid)
        return out

    def move(self, user: str, f: DriveFile, add: list[str], remove: list[str]) -> None:
        self.require(self.capabilities(user, f)["canMoveItemWithinDrive"])
        for pid in remove:
            if pid not in f.parents:
                raise ApiError(400, f"File not found: {pid}.", "notFound", location="removeParents")
        for pid in add:
            parent = self.files.get(pid if pid != "root" else self.users[user].root_id)
            if parent is None or not self.visible(user, parent):
                raise ApiError(404, f"File not found: {pid}.", "notFound", location="addParents")
            if parent.mime_type != FOLDER:
                raise ApiError(400, "The specified parent is not a folder.", "invalidParent")
            if parent.drive_id != f.drive_id:
                raise ApiError(
                    403,
                    "Moving items across drives is not supported here.",
                    "teamDrivesParentLimit",
                )
            if parent.id == f.id or f in [parent, *self.ancestors(parent)]:
                raise ApiError(400, "The parent would create a cycle.", "cycleDetected")
            self.require(self.role(user, parent) in EDIT_ROLES)
        new = [p for p in f.parents if p not in remove]
        for pid in add:
            real = self.users[user].root_id if pid == "root" else pid
            if real not in new:
                new.append(real)
        if len(new) > 1:
            raise ApiError(
                403,
                "Increasing the number of parents is not allowed",
                "cannotAddParent",
            )
        if not new:
            raise ApiError(400, "A file needs a parent.", "cannotRemoveParent")
        for pid in f.parents:
            self.children.get(pid, set()).discard(f.id)
        f.parents = new
        for pid in new:
            self.children.setdefault(pid, set()).add(f.id)
        f.version += 1
        self._gen += 1
        self.log_change(f)

    def ancestors(self, f: DriveFile) -> list[DriveFile]:
        out = []
        node = self.files.get(f.parents[0]) if f.parents else None
        while node is not None and len(out) < 200:
            out.append(node)
            node = self.files.get(node.parents[0]) if node.parents else None
        return out

    def delete(self, user: str, f: DriveFile) -> None:
        self.require(self.capabilities(user, f)["canDelete"])
        doomed = [f]
        for d in self.descendants(f):
            # In My Drive a folder takes only what its owner owns; others' items are orphaned.
            if f.drive_id is not None or d.owner == f.owner:
                doomed.append(d)
        doomed_ids = {d.id for d in doomed}
        for d in self.descendants(f):
            if d.id not in doomed_ids and d.parents and d.parents[0] in doomed_ids:
                d.parents = [self.users[d.owner].root_id] if d.owner in self.users else []
                for pid in d.parents:
                    self.children.setdefault(pid, set()).add(d.id)
        for d in doomed:
            self.log_change(d, removed=True)
        for d in doomed:
            for pid in d.parents:
                self.children.get(pid, set()).discard(d.id)
            self.children.pop(d.id, None)
            self.files.pop(d.id, None)
        self._gen += 1

    def owned_files(self, user: str) -> list[DriveFile]:
        return [f for f in self.files.values() if f.owner == user and not f.is_root]

    def quota(self, user: str) -> dict[str, str]:
        u = self.users[user]
        in_drive = 0
        in_trash = 0
        for f in self.owned_files(user):
            b = f.quota_bytes()
            in_drive += b
            if self.is_trashed(f):
                in_trash += b
        out = {
            "usage": str(in_drive + u.other_usage),
            "usageInDrive": str(in_drive),
            "usageInDriveTrash": str(in_trash),
        }
        if u.quota_limit is not None:
            out["limit"] = str(u.quota_limit)
        return out
