"""cleanup: find the waste in local drives, Google Drive and SharePoint, remove it safely, report what it was worth."""


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed package's metadata on first use.

    importlib.metadata takes ~10 ms to import: `import cleanup` (and so every module of the
    package) does not pay it; `cleanup --version` and the modules that record the version do.
    """
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("cleanup")
    except PackageNotFoundError:  # running from a source tree that was not installed
        value = "0.0.0+source"
    globals()["__version__"] = value
    return value
