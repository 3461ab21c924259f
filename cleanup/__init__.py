"""cleanup: find the waste in local drives, Google Drive and SharePoint, remove it safely, report what it was worth."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cleanup")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
