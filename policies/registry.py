"""Name -> class registries: each condition, action and keep rule declares its own schema."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from cleanup.errors import PolicyError

T = TypeVar("T")


class BadValue(PolicyError):
    """A key holds a value the language cannot accept; the message says what would be."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' Did you mean ...?' hint for a misspelt name, or ''."""
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


class Registry(Generic[T]):
    """Classes by the name a policy file uses for them."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._classes: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator: make ``cls`` available under ``name``."""

        def add(cls: type[T]) -> type[T]:
            if name in self._classes:
                raise ValueError(f"{self.what} {name!r} is registered twice")
            cls.name = name  # type: ignore[attr-defined]
            self._classes[name] = cls
            return cls

        return add

    def get(self, name: str) -> type[T]:
        """The class for ``name``, or BadValue naming the known ones."""
        try:
            return self._classes[name]
        except KeyError:
            raise BadValue(
                f"unknown {self.what} {name!r}.{did_you_mean(name, self._classes)} "
                f"Known: {', '.join(sorted(self._classes))}."
            ) from None

    def names(self) -> list[str]:
        return list(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[tuple[str, type[T]]]:
        return iter(self._classes.items())
