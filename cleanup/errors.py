"""Typed errors. Each message says what is wrong and what to do; the CLI shows it as is."""

from __future__ import annotations


class CleanupError(Exception):
    """Base class of every error shown to the user."""

    exit_code = 1


class UsageError(CleanupError):
    """The command line or an address is wrong."""

    exit_code = 2


class ProviderError(CleanupError):
    """A provider could not be loaded, reached or used."""


class AuthError(ProviderError):
    """Sign-in is missing, expired, revoked or lacks a permission."""


class ThrottledError(ProviderError):
    """A service kept refusing requests for longer than the retry budget."""


class InventoryError(CleanupError):
    """The inventory database is missing, locked, corrupt or from a newer version."""


class PolicyError(CleanupError):
    """A policy file is malformed or names something that does not exist."""

    exit_code = 2


class PlanError(CleanupError):
    """A plan is expired, tampered with, stale or over its limits."""

    exit_code = 3


class PreconditionFailed(ProviderError):
    """An item changed since it was planned; it is skipped, not acted on."""


class ItemGone(ProviderError):
    """An item no longer exists where it was seen."""
