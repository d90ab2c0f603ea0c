"""Typed errors of the model.

An operation that rejects its input raises a :class:`GpuVmError` subclass
carrying the errno the kernel returns, and leaves every model object exactly
as it was.  A broken internal invariant raises :class:`InvariantViolation`,
which is an ``AssertionError``: it is a bug in the model (or a mutant), never
an answer to bad input.
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
    """-EBUSY: removing a region that still holds mappings."""

    errno_name = "EBUSY"


class InvariantViolation(AssertionError):
    """A model invariant does not hold; the message names it and the values."""

    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail


ERRNO_NAMES = ("EINVAL", "EEXIST", "ENOENT", "EBUSY")
