"""An output that a program resolves later, which cannot leave the program waiting forever.

``pulumi.deferred_output()`` breaks a cycle between resources (the viewer's configuration needs the data store's
DICOMweb root; the data store needs the viewer's client for its authorizer). If the program stops before it
resolves the output, say because a component refuses its arguments, every registration waiting on it waits forever,
and so does ``pulumi up`` (and the offline plan): the runtime waits for all registrations before it reports the
error. :func:`deferred` fails the output instead, with the error that stopped the program, so the run ends and says
why::

    with deferred(str, "the data store's DICOMweb root") as dicomweb_url:
        viewer = ImagingViewer("viewer", {..., "dicomweb_url": dicomweb_url.output})
        datastore = ImagingDatastore("datastore", {...})
        dicomweb_url.resolve(datastore.dicomweb_url)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import pulumi

T = TypeVar("T")


class DeferredOutputError(RuntimeError):
    """A deferred output the program never resolved."""


class Deferred(Generic[T]):
    """``output``, known once :meth:`resolve` is given the output it stands for."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.output: pulumi.Output[T]
        self._resolve: Callable[[pulumi.Output[T]], None]
        self.output, self._resolve = pulumi.deferred_output()
        self.resolved = False

    def resolve(self, value: pulumi.Output[T]) -> None:
        """Give ``output`` its value (once)."""
        if self.resolved:
            raise DeferredOutputError(f"{self.what} was already resolved.")
        self.resolved = True
        self._resolve(value)

    def fail(self, reason: str) -> None:
        """End what waits on ``output`` with a :class:`DeferredOutputError` that names this output and ``reason``."""
        error = DeferredOutputError(f"{self.what} was never known: {reason}")

        def raise_error(_: object) -> T:
            raise error

        self.resolve(pulumi.Output.from_input(0).apply(raise_error))


@contextlib.contextmanager
def deferred(kind: type[T], what: str) -> Iterator[Deferred[T]]:
    """A :class:`Deferred` of ``kind`` values that must be resolved inside the ``with`` block.

    If the block raises first, the output fails with that error's text (and the error is raised as it was); if the
    block ends without resolving it, the output fails and :class:`DeferredOutputError` is raised."""
    later: Deferred[T] = Deferred(what)
    try:
        yield later
    except BaseException as error:
        if not later.resolved:
            later.fail(f"the program stopped before it was known ({type(error).__name__}: {error})")
        raise
    if not later.resolved:
        later.fail("the program did not resolve it")
        raise DeferredOutputError(f"{what} was never resolved: resolve it inside the with block that defers it.")
