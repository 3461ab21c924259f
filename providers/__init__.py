"""The storage systems cleanup ships with, registered as plugins in pyproject.toml."""
