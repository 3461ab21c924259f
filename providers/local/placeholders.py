"""Online-only placeholders of synced cloud folders: detect them so they are never read.

Reading a placeholder downloads it. Where the platform exposes the state in the stat
result, it is used:

- Windows (OneDrive Files On-Demand, Google Drive for desktop, iCloud for Windows):
  FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS, FILE_ATTRIBUTE_RECALL_ON_OPEN, FILE_ATTRIBUTE_OFFLINE.
- macOS (File Provider: iCloud Drive, OneDrive, Google Drive): the SF_DATALESS flag.

Linux has no standard marker; FUSE mounts of cloud drives (rclone, google-drive-ocamlfuse)
are other filesystems and are not entered unless --cross-fs is given.
"""

from __future__ import annotations

import os

FILE_ATTRIBUTE_OFFLINE = 0x1000
FILE_ATTRIBUTE_RECALL_ON_OPEN = 0x40000
FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS = 0x400000
SF_DATALESS = 0x40000000  # macOS <sys/stat.h>

_WINDOWS_MASK = (
    FILE_ATTRIBUTE_OFFLINE | FILE_ATTRIBUTE_RECALL_ON_OPEN | FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS
)


def is_placeholder(st: os.stat_result) -> bool:
    """Whether reading this file would fetch its content from the cloud."""
    attributes = getattr(st, "st_file_attributes", 0)
    if attributes & _WINDOWS_MASK:
        return True
    return bool(getattr(st, "st_flags", 0) & SF_DATALESS)
