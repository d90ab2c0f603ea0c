"""GpuVm's TLA+ encoding of the VA space's abstract values, and back.

The model and ``specs/GpuVm/GpuVm.tla`` share their variable names (``vas``,
``regions``, ``lastOps``, ``lastErr``) and shapes; two things differ:

- a NULL GEM is ``None`` in the model and the model value ``NullGem``
  (``"NULL"``) in the spec;
- an absent remap piece is ``None`` in the model and ``<<>>`` in the spec.

TLC's integers are 32-bit, so a value recorded for trace validation must
stay well inside them (:data:`TLC_INT_LIMIT`); the recorded runs use small
domains, and u64 wrap-around is checked by the Z3 obligations and the small
``U64Max`` models instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from checks.outcome import ToolError
from checks.tlc.values import tla
from model.vaspace import VOCABULARY

NULL_GEM = "NULL"
TLC_INT_LIMIT = 1 << 29


def _gem_out(g: Any) -> Any:
    return NULL_GEM if g is None else g


def _gem_in(g: Any) -> Any:
    return None if g == NULL_GEM else g


def _va_out(v: Sequence[Any]) -> list[Any]:
    return [v[0], v[1], _gem_out(v[2]), v[3], v[4]]


def _va_in(v: Sequence[Any]) -> list[Any]:
    return [v[0], v[1], _gem_in(v[2]), v[3], v[4]]


def _op_out(op: Mapping[str, Any]) -> dict[str, Any]:
    kind = op["op"]
    if kind == "map":
        return {"op": "map", "addr": op["addr"], "range": op["range"],
                "gem": _gem_out(op["gem"]), "offset": op["offset"], "flags": op["flags"]}
    if kind == "unmap":
        return {"op": "unmap", "va": _va_out(op["va"]), "keep": bool(op["keep"])}
    if kind == "remap":
        return {"op": "remap", "va": _va_out(op["va"]), "keep": bool(op["keep"]),
                "prev": [] if op["prev"] is None else _va_out(op["prev"]),
                "next": [] if op["next"] is None else _va_out(op["next"])}
    return {"op": kind, "va": _va_out(op["va"])}


def _op_in(op: Mapping[str, Any]) -> dict[str, Any]:
    kind = op["op"]
    if kind == "map":
        return {"op": "map", "addr": op["addr"], "range": op["range"],
                "gem": _gem_in(op["gem"]), "offset": op["offset"], "flags": op["flags"]}
    if kind == "unmap":
        return {"op": "unmap", "va": _va_in(op["va"]), "keep": op["keep"]}
    if kind == "remap":
        return {"op": "remap", "va": _va_in(op["va"]), "keep": op["keep"],
                "prev": None if op["prev"] in ([], {}) else _va_in(op["prev"]),
                "next": None if op["next"] in ([], {}) else _va_in(op["next"])}
    return {"op": kind, "va": _va_in(op["va"])}


def check_ints(value: Any, where: str) -> None:
    """:class:`ToolError` if an integer in ``value`` is beyond what TLC holds here."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -TLC_INT_LIMIT < value < TLC_INT_LIMIT:
            raise ToolError(f"value {value} is beyond what the TLA+ spec's integers hold "
                            f"(|v| < 2^29 here)", where)
    elif isinstance(value, dict):
        for v in value.values():
            check_ints(v, where)
    elif isinstance(value, list | tuple):
        for v in value:
            check_ints(v, where)


class GpuVmCodec:
    """The :class:`~checks.systems.Codec` of ``gpuvm``."""

    def to_spec(self, var: str, value: Any) -> Any:
        if var == "vas":
            return [_va_out(v) for v in value]
        if var == "lastOps":
            return [_op_out(op) for op in value]
        return value  # regions, lastErr

    def from_spec(self, var: str, value: Any) -> Any:
        if var == "vas":
            return [_va_in(v) for v in value]
        if var == "lastOps":
            return [_op_in(op) for op in value]
        return value

    def args_to_spec(self, action: str, args: Mapping[str, Any]) -> list[Any]:
        spec_args = dict(args)
        if "gem" in spec_args:
            spec_args["gem"] = _gem_out(spec_args["gem"])
        return VOCABULARY.positional(action, spec_args)

    def args_from_spec(self, action: str, args: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(args)
        if "gem" in out:
            out["gem"] = _gem_in(out["gem"])
        return out

    def config_of(self, constants: Mapping[str, Any], printed: Any = None) -> dict[str, Any]:
        return {"mm_start": constants.get("MmStart", 0), "mm_range": constants.get("MmRange", 0),
                "reserve_offset": constants.get("KernelAddr", 0),
                "reserve_range": constants.get("KernelRange", 0),
                "regions": bool(constants.get("RegionsOn", False)),
                "profile": constants.get("Profile", "upstream")}

    def constants(self, config: Mapping[str, Any], states: Sequence[Mapping[str, Any]]
                  ) -> list[str]:
        gems = {NULL_GEM}
        for s in states:
            for v in s.get("vas", []):
                gems.add(_gem_out(v[2]))
        return [
            f"MmStart = {config['mm_start']}",
            f"MmRange = {config['mm_range']}",
            f"KernelAddr = {config.get('reserve_offset', 0)}",
            f"KernelRange = {config.get('reserve_range', 0)}",
            f"U64Max = {TLC_INT_LIMIT * 2}",
            f"Profile = {tla(config.get('profile', 'upstream'))}",
            f"RegionsOn = {tla(bool(config.get('regions', False)))}",
            "Gems = {" + ", ".join(tla(g) for g in sorted(gems)) + "}",
            f"NullGem = {tla(NULL_GEM)}",
            "ReqAddrs = {}",
            "ReqRanges = {}",
            "ReqFlags = {}",
            "RegionAddrs = {}",
            "RegionRanges = {}",
            "ReqOffsets <- NoReqOffsets",
        ]


    def definitions(self, config: Mapping[str, Any]) -> list[str]:
        return []


CODEC = GpuVmCodec()
