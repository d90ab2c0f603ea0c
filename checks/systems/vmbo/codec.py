"""VmBo's TLA+ encoding of the vm_bo system's abstract values, and back.

The model and ``specs/VmBo/VmBo.tla`` share variable names and shapes but
for three things: ``vmbos`` is a list (ordered by name) in the model and a
set in the spec; a vm_bo's name and a handle are lists in the model and
tuples in the spec (the same when written); and a GEM with a resv of its own
is ``None`` in the model's config and ``""`` in the spec's ``GemResvOf``.

A model's VMs, GEMs and jobs are functions or sets, which a ``.cfg`` cannot
hold: the MC module prints them at start (``@config``), and trace
validation defines them in the data module (:meth:`VmBoCodec.definitions`)
and binds them with ``<-``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from checks.systems import VocabularyArgs
from checks.tlc.values import TlaSet, tla
from model.vmbo import VOCABULARY


def _sorted_bos(value: Any) -> list[dict[str, Any]]:
    return sorted((dict(b) for b in value), key=lambda b: (b["vm"], b["gem"], b["n"]))


class VmBoCodec(VocabularyArgs):
    """The :class:`~checks.systems.Codec` of ``vmbo``."""

    vocabulary = VOCABULARY

    def to_spec(self, var: str, value: Any) -> Any:
        if var == "vmbos":
            return TlaSet(value)
        return value

    def from_spec(self, var: str, value: Any) -> Any:
        if var == "vmbos":
            return _sorted_bos(value)
        if var == "lastResult" and value == {}:
            return []
        if var in ("vas", "handles", "gems", "vms") and value == []:
            return {}  # an empty record prints as <<>>
        return value

    def config_of(self, constants: Mapping[str, Any], printed: Any = None) -> dict[str, Any]:
        if not isinstance(printed, dict):
            raise ValueError("a VmBo model prints its configuration (@config) at start")
        gems = {g: (None if owner == "" else owner) for g, owner in printed["gems"].items()}
        return {"vms": {v: list(r) for v, r in printed["vms"].items()}, "gems": gems,
                "jobs": list(printed["jobs"]), "profile": printed["profile"],
                "list_mode": printed["list_mode"], "immediate": printed["immediate"]}

    def definitions(self, config: Mapping[str, Any]) -> list[str]:
        vms = sorted(config["vms"])
        gems = sorted(config["gems"])
        order = sorted(vms + gems, key=lambda n: f"resv:{n}")
        return [
            "TrVms == " + tla(TlaSet(vms)),
            "TrGems == " + tla(TlaSet(gems)),
            "TrGemResvOf == " + tla({g: config["gems"][g] or "" for g in gems}),
            "TrVmRange == " + tla({v: list(config["vms"][v]) for v in vms}),
            "TrNameOrder == " + tla(order),
            "TrNone == {}",
            "TrNoOffsets(a) == {}",
        ]

    def constants(self, config: Mapping[str, Any], states: Sequence[Mapping[str, Any]]
                  ) -> list[str]:
        return [
            "Vms <- TrVms",
            "Gems <- TrGems",
            "GemResvOf <- TrGemResvOf",
            "VmRange <- TrVmRange",
            "NameOrder <- TrNameOrder",
            "Jobs = {" + ", ".join(tla(j) for j in config["jobs"]) + "}",
            f"Profile = {tla(config['profile'])}",
            f"ListMode = {tla(config['list_mode'])}",
            f"Immediate = {tla(bool(config['immediate']))}",
            "ReqAddrs <- TrNone",
            "ReqRanges <- TrNone",
            "ReqOffsets <- TrNoOffsets",
            # MCVmBo's bounds on what it drives: trace validation follows the runs instead
            "MaxHandles = 0", "MaxVas = 0", "Pairs <- TrNone", "EvictGems <- TrNone",
            "PutVms <- TrNone", "MaxPairVmBos = 0", "MaxZombies = 0", "OnlyValid = FALSE",
            "ObtainDiscipline = FALSE", "VmPutDiscipline = FALSE",
        ]


CODEC = VmBoCodec()
