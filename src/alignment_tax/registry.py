"""Named factories that other packages extend through entry points: what the backend and detector registries share.

A registry maps names to factories. The project registers its own with a decorator; another package adds
more by declaring an entry point in the registry's group (``name = "package.module:factory"``), loaded only
when the name is first asked for. A factory whose dependencies come with a pip extra names the modules it
needs: they are checked before the factory runs, so the error says which extra to install.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from alignment_tax.errors import AltaxError

F = TypeVar("F", bound=Callable)


@dataclass(frozen=True)
class Registered(Generic[F]):
    """A factory with what it needs: ``requires`` (modules) come with the pip extra ``extra``;
    ``takes_argument``: the factory is called with what follows the colon of ``NAME:ARGUMENT``."""

    factory: F
    requires: tuple[str, ...] = ()
    extra: str | None = None
    takes_argument: bool = False


class Registry(Generic[F]):
    """The factories of one kind (``kind`` words the errors: "model scheme"), extended by the entry-point
    group ``group``; ``register`` is the decorator. Iterating gives every known name, entry points included,
    without importing them."""

    def __init__(self, kind: str, group: str):
        self.kind, self.group = kind, group
        self._registered: dict[str, Registered[F]] = {}

    def register(
        self, name: str, *, requires: tuple[str, ...] = (), extra: str | None = None, takes_argument: bool = False
    ) -> Callable[[F], F]:
        """A decorator registering a factory under ``name`` (registering a name again replaces it)."""

        def register(factory: F) -> F:
            self._registered[name] = Registered(factory, requires, extra, takes_argument)
            return factory

        return register

    def _entry_points(self) -> dict[str, importlib.metadata.EntryPoint]:
        found: dict[str, importlib.metadata.EntryPoint] = {}
        for point in importlib.metadata.entry_points(group=self.group):
            found.setdefault(point.name, point)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._registered.keys() | self._entry_points().keys()))

    def __contains__(self, name: object) -> bool:
        return name in self._registered or name in self._entry_points()

    def unknown(self, name: str) -> AltaxError:
        """The error for a name nothing registers: the known names and how to add one."""
        return AltaxError(
            f"unknown {self.kind} {name!r}; known: {', '.join(self)}. Other packages add more through the "
            f"entry-point group {self.group!r}: pip install one (docs/extending.md)"
        )

    def entry(self, name: str) -> Registered[F]:
        """What ``name`` is registered as, loading its entry point on first use; a clear error when no factory
        has that name or its extra is missing."""
        if name not in self._registered:
            point = self._entry_points().get(name)
            if point is None:
                raise self.unknown(name)
            try:
                factory = point.load()
            except Exception as error:  # a broken plug-in is the user's to fix, not a crash of ours
                where = point.dist.name if point.dist else point.value
                raise AltaxError(
                    f"the {self.kind} {name!r} of {where} fails to load ({type(error).__name__}: {error}); "
                    "reinstall or remove that package"
                ) from None
            if name not in self._registered:  # a factory its module did not register itself with the decorator
                self.register(name)(factory)
        registered = self._registered[name]
        missing = [module for module in registered.requires if importlib.util.find_spec(module) is None]
        if missing:
            hint = f"pip install 'alignment-tax[{registered.extra}]'" if registered.extra else "reinstall alignment-tax"
            raise AltaxError(f"{self.kind} {name!r} needs {missing[0]}: {hint}")
        return registered
