"""Executable reference model of DRM GPU virtual-memory management.

Pure Python: nothing here imports a solver, a spec or a checker.  Each
component exposes ``abstract()``, the spec-level view of its state.
"""

from model.errors import (
    AlreadyExists,
    Busy,
    GpuVmError,
    InvalidArgument,
    InvariantViolation,
    NotFound,
)
from model.gpuva import Region, Va
from model.ops import Map, Op, Prefetch, Remap, Unmap
from model.profiles import PROFILES, Profile, Rfc2023, Upstream, profile_by_name
from model.vaspace import VaSpace

__all__ = [
    "PROFILES",
    "AlreadyExists",
    "Busy",
    "GpuVmError",
    "InvalidArgument",
    "InvariantViolation",
    "Map",
    "NotFound",
    "Op",
    "Prefetch",
    "Profile",
    "Region",
    "Remap",
    "Rfc2023",
    "Unmap",
    "Upstream",
    "Va",
    "VaSpace",
    "profile_by_name",
]
