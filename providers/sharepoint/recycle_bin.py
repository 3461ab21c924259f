"""List a site's recycle bin: deleted files still billed against the site's storage."""

from __future__ import annotations

from dataclasses import dataclass

from cleanup.providers import ScanSink
from cleanup.records import TRASHED, FileRecord

from .delta import PROVIDER, parse_time
from .graph import Graph


def is_recycle_bin_account(account: str) -> bool:
    """Recycle-bin entries belong to their site (host,site-guid,web-guid), not to a drive."""
    return account.count(",") == 2


@dataclass
class RecycleBinScan:
    """The recycle bin of one site, listed completely each scan."""

    graph: Graph
    site_id: str
    site_label: str  # contoso.sharepoint.com/sites/HR

    def run(self, sink: ScanSink) -> None:
        sink.start_unit(self.site_id, "", incremental=False)
        count = 0
        for entry in self.graph.pages(
            f"/sites/{self.site_id}/recycleBin/items", params={"$top": "999"}
        ):
            location = str(entry.get("deletedFromLocation") or "").strip("/")
            name = str(entry.get("name") or entry.get("id"))
            size = int(entry.get("size") or 0)
            deleted = parse_time(entry.get("deletedDateTime"))
            sink.add(
                FileRecord(
                    provider=PROVIDER,
                    account=self.site_id,
                    item_id=str(entry["id"]),
                    path=f"{self.site_label}/Recycle Bin/{location}/{name}".replace("//", "/"),
                    name=name,
                    kind="file",
                    size=size,
                    storage_bytes=size,
                    modified=deleted,
                    flags=frozenset({TRASHED}),
                    fingerprint=str(entry["id"]),
                    extra={
                        "deleted_from": location,
                        "recycle_bin": f"https://{self.site_label}/_layouts/15/RecycleBin.aspx",
                    },
                )
            )
            count += 1
        sink.progress(items=count)
        sink.finish_unit(self.site_id, "", complete=True)
