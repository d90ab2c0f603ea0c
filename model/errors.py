"""Typed errors of the model, and the errno registry.

An operation that rejects its input raises a :class:`GpuVmError` subclass
carrying the errno the kernel returns, and leaves every model object exactly
as it was.  A broken internal invariant raises :class:`InvariantViolation`,
which is an ``AssertionError``: it is a bug in the model (or a mutant), never
an answer to bad input.

Every errno the model can return has one class here, registered in
:data:`ERRNOS` by its name; :func:`error_class` finds it.  Action
declarations (:mod:`model.actions`) name the errnos an action may return by
these names, so a state machine knows which exception to expect.
"""

from __future__ import annotations

import errno as _errno


class GpuVmError(Exception):
    """Base of every error the model returns to a caller, with its errno."""

    errno_name: str = "EIO"

    @property
    def errno(self) -> int:
        return int(getattr(_errno, self.errno_name))

    def __init__(self, message: str) -> None:
        super().__init__(f"-{self.errno_name}: {message}")
        self.message = message


class InvalidArgument(GpuVmError):
    """-EINVAL: a range outside the VM, overflowing, empty, or in the kernel node."""

    errno_name = "EINVAL"


class AlreadyExists(GpuVmError):
    """-EEXIST: insert over an existing mapping or region."""

    errno_name = "EEXIST"


class NotFound(GpuVmError):
    """-ENOENT: no such mapping, region or object."""

    errno_name = "ENOENT"


class Busy(GpuVmError):
    """-EBUSY: removing a region that still holds mappings; a seq that moved."""

    errno_name = "EBUSY"


class Deadlock(GpuVmError):
    """-EDEADLK: a ww_mutex acquire context must back off."""

    errno_name = "EDEADLK"


class AlreadyLocked(GpuVmError):
    """-EALREADY: the ww_mutex is already held by this acquire context."""

    errno_name = "EALREADY"


class Fault(GpuVmError):
    """-EFAULT: the user memory behind a range is gone."""

    errno_name = "EFAULT"


class TryAgain(GpuVmError):
    """-EAGAIN: retry the operation (a userptr seq moved under it)."""

    errno_name = "EAGAIN"


class NoMemory(GpuVmError):
    """-ENOMEM: an allocation failed (injected)."""

    errno_name = "ENOMEM"


class NotSupported(GpuVmError):
    """-EOPNOTSUPP: the operation is not available in this mode."""

    errno_name = "EOPNOTSUPP"


class NoSpace(GpuVmError):
    """-ENOSPC: the VA range cannot be reserved."""

    errno_name = "ENOSPC"


class NoSys(GpuVmError):
    """-ENOSYS: the interface is not enabled for this client."""

    errno_name = "ENOSYS"


class Interrupted(GpuVmError):
    """-EINTR: an interruptible wait was interrupted."""

    errno_name = "EINTR"


class NoDevice(GpuVmError):
    """-ENODEV: the channel (or its fence context) has been killed."""

    errno_name = "ENODEV"


class ProtocolError(GpuVmError):
    """-EPROTO: a request that the object's state does not allow (xe RESTART
    without an error to restart from)."""

    errno_name = "EPROTO"


class Overflow(GpuVmError):
    """-EOVERFLOW: a count times an element size does not fit (an array copy's size)."""

    errno_name = "EOVERFLOW"


class InvariantViolation(AssertionError):
    """A model invariant does not hold; the message names it and the values."""

    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail


#: errno name -> the class the model raises for it
ERRNOS: dict[str, type[GpuVmError]] = {
    cls.errno_name: cls
    for cls in (InvalidArgument, AlreadyExists, NotFound, Busy, Deadlock, AlreadyLocked,
                Fault, TryAgain, NoMemory, NotSupported, NoSpace, NoSys, Interrupted, NoDevice,
                ProtocolError, Overflow)
}

#: every errno name the model can return, and ``"OK"`` is the name of success
ERRNO_NAMES = tuple(ERRNOS)


def error_class(name: str) -> type[GpuVmError]:
    """The class of errno ``name``; ``KeyError`` naming the known ones if there is none."""
    try:
        return ERRNOS[name]
    except KeyError:
        raise KeyError(f"unknown errno {name!r} (known: {', '.join(ERRNOS)})") from None
