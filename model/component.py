"""The protocol every model component follows.

A component is one modelled object with a spec of its own (a VA space, the
vm_bo bookkeeping of several VMs, ...).  It is the only bridge between the
model and the checkers:

``abstract()``
    the spec-level state as plain JSON-able data, keyed by exactly the
    spec's variable names;
``config()`` / ``from_config(config)``
    the constants that make one instance (a VM's range, a profile), as plain
    data, and a fresh instance built from them;
``restore(abstract)``
    put the component in any state ``abstract()`` can describe -- without
    replaying the actions that reached it, so that spec -> model conformance
    can start a step from any state the spec reaches.  ``restore(x)`` then
    ``abstract()`` gives ``x`` back; a state the component cannot hold is a
    :class:`~model.errors.GpuVmError` and leaves it unchanged.

Components compose: one holding others (the vm_bo system holds VA spaces)
namespaces their variables in its own ``abstract()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, Self, runtime_checkable


@runtime_checkable
class Component(Protocol):
    def abstract(self) -> dict[str, Any]: ...

    def config(self) -> dict[str, Any]: ...

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self: ...

    def restore(self, abstract: Mapping[str, Any]) -> None: ...
