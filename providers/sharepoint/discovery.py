"""Which drives a scan address covers: a person's OneDrive and sites, or a whole tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from cleanup.errors import ItemGone, UsageError

from .graph import Graph


@dataclass(frozen=True, slots=True)
class DriveRef:
    """One document library or OneDrive to scan."""

    id: str
    name: str
    web_url: str
    drive_type: str  # documentLibrary, business, personal
    owner: str = ""
    site_id: str = ""  # the team site a library belongs to

    @property
    def site_label(self) -> str:
        """The site's address for people: contoso.sharepoint.com/sites/HR."""
        return self.label.rsplit("/", 1)[0]

    @property
    def label(self) -> str:
        """Where the drive lives, for people: contoso.sharepoint.com/sites/HR/Documents."""
        parts = urlsplit(self.web_url)
        return unquote(parts.netloc + parts.path).rstrip("/") or self.id


def _drive(body: dict[str, Any], site_id: str = "") -> DriveRef:
    owner = body.get("owner") or {}
    who = owner.get("user") or owner.get("group") or {}
    return DriveRef(
        id=str(body["id"]),
        name=str(body.get("name", "")),
        web_url=str(body.get("webUrl", "")),
        drive_type=str(body.get("driveType", "")),
        owner=str(who.get("email") or who.get("displayName") or ""),
        site_id=site_id,
    )


def site_drives(graph: Graph, site_id: str) -> list[DriveRef]:
    """The document libraries of a site."""
    return [_drive(d, site_id) for d in graph.pages(f"/sites/{site_id}/drives")]


def find_site(graph: Graph, name: str) -> str:
    """A site id from contoso.sharepoint.com/sites/HR, a full URL, or sites/HR alone."""
    text = name.removeprefix("https://").removeprefix("http://").strip("/")
    host, _, path = text.partition("/")
    if "." in host and path:
        try:
            site = graph.get(f"/sites/{host}:/{quote(path)}")
            return str(site["id"])
        except ItemGone:
            raise UsageError(f"No SharePoint site at {name}. Check the address.") from None
    wanted = text.split("/")[-1]
    matches = [
        s
        for s in graph.pages("/sites", params={"search": wanted})
        if wanted.lower() in (str(s.get("name", "")).lower(), str(s.get("displayName", "")).lower())
    ]
    if not matches:
        raise UsageError(
            f"No SharePoint site called {wanted!r} was found. Give its address, e.g. "
            "sharepoint:contoso.sharepoint.com/sites/HR."
        )
    return str(matches[0]["id"])


def my_drives(graph: Graph) -> list[DriveRef]:
    """Staff: their own OneDrive and the libraries of the sites they follow."""
    drives = [_drive(graph.get("/me/drive"))]
    for site in graph.pages("/me/followedSites"):
        drives += site_drives(graph, str(site["id"]))
    return drives


def user_drive(graph: Graph, user: str) -> list[DriveRef]:
    """One person's OneDrive (admins)."""
    try:
        return [_drive(graph.get(f"/users/{quote(user)}/drive"))]
    except ItemGone:
        raise UsageError(f"{user} has no OneDrive (or no such user).") from None


def tenant_drives(graph: Graph, problem: Any = None) -> list[DriveRef]:
    """Admins: every site's libraries and every user's OneDrive."""
    drives: dict[str, DriveRef] = {}
    for site in graph.pages("/sites/getAllSites"):
        for drive in site_drives(graph, str(site["id"])):
            drives[drive.id] = drive
    for user in graph.pages("/users", params={"$select": "id,userPrincipalName"}):
        try:
            drive = _drive(graph.get(f"/users/{user['id']}/drive"))
        except ItemGone:
            continue  # no OneDrive: unlicensed or never provisioned
        drives[drive.id] = drive
    return list(drives.values())


def drives_for(
    graph: Graph, target: str, *, application: bool, all_accounts: bool, as_user: str | None
) -> list[DriveRef]:
    """The drives a scan address names."""
    target = target.strip()
    if all_accounts or target in ("all", "*", "tenant"):
        if not application:
            raise UsageError(
                "Scanning every site and OneDrive needs admin sign-in: set sharepoint.client_secret "
                "or sharepoint.certificate for an app with application permissions."
            )
        return tenant_drives(graph)
    if as_user:
        return user_drive(graph, as_user)
    if target in ("", "me"):
        if application:
            raise UsageError(
                "sharepoint:me is a person's OneDrive and sites; an app signed in as itself has "
                "none. Use sharepoint:all, sharepoint:SITE or sharepoint:user@domain."
            )
        return my_drives(graph)
    if target.startswith(("drive/", "drives/")):
        return [_drive(graph.get(f"/drives/{target.split('/', 1)[1]}"))]
    if "@" in target and "/" not in target:
        return user_drive(graph, target)
    return site_drives(graph, find_site(graph, target))
