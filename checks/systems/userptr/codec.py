"""Userptr.tla's values and the model's, and the configuration a TLC model prints.

The model's abstract state is the spec's ``Observed`` variable for variable
(``extra`` is the model's alone): functions over threads and userptrs are
records, functions over pages and frames ``(k :> v @@ ...)`` functions,
sets (of userptrs, of ``<<page, frame>>`` pairs, the DMA mappings
``<<userptr, frame, count>>``, the GPU PTEs ``<<userptr, page, frame>>``,
the TLB entries unlike their PTE ``<<gt, userptr, page, frame>>``) sets, the
PT queue a tuple of records.  Back from the spec, sets become sorted lists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from checks.systems import VocabularyArgs
from checks.tlc.values import TlaFcn, TlaSet, tla
from model.userptr import VOCABULARY

#: variables that are functions over pages or frames (integer domains)
_INT_FCN = ("cpuPte", "mem", "expect")
#: variables that are functions over threads or userptrs to sets
_TO_SETS = ("got", "pinned")
#: variables that are sets
_SETS = ("dma", "vmBound", "failed", "zapped", "invalidated", "repin", "rebind", "jobUses",
         "gpuPte", "tlb", "destroyed")


def _items(f: Any) -> Any:
    """A function's pairs: TLC prints one over ``1 .. n`` as a tuple."""
    return f.items() if isinstance(f, Mapping) else enumerate(f, 1)


#: the spec's own variables that Observed gives as sets (a counterexample holds these)
_RAW = {
    "dma": lambda d: [[u, int(f), c] for u, m in d.items() for f, c in _items(m) if c != 0],
    "gpuPte": lambda d: [[u, int(p), f] for u, m in d.items() for p, f in _items(m)
                         if f != -1],
    "tlb": lambda d: [[int(g), u, int(p), f] for g, t in _items(d) for u, m in t.items()
                      for p, f in _items(m) if f != -1],
}


def _sorted(items: Sequence[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=lambda x: json.dumps(x, sort_keys=True))


def _plain(value: Any) -> Any:
    """A value as TLC printed it (parsed) -> the model's: keys as strings, sets sorted."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(x) for x in value]
    return value


class UserptrCodec(VocabularyArgs):
    vocabulary = VOCABULARY

    def to_spec(self, var: str, value: Any) -> Any:
        if var in _INT_FCN:
            return TlaFcn({int(k): v for k, v in value.items()})
        if var in _TO_SETS:
            return {k: TlaSet(v) for k, v in value.items()}
        if var in _SETS:
            return TlaSet(value)
        if var == "ptq":
            return [{**j, "map": TlaSet(j["map"])} for j in value]
        return value

    def from_spec(self, var: str, value: Any) -> Any:
        v = _plain(value)
        raw = isinstance(v, dict) or (isinstance(v, list) and bool(v)
                                      and isinstance(v[0], dict))
        if var in _RAW and raw:   # the variable itself, not Observed's set
            return _sorted(_RAW[var](v))
        if var in _TO_SETS:
            return {k: _sorted(x) for k, x in v.items()}
        if var in _SETS:
            return _sorted(v)
        if var == "ptq":
            return [{**j, "map": _sorted(j["map"])} for j in v]
        return v

    def args_from_spec(self, action: str, args: Any) -> dict[str, Any]:
        """Userptr.tla's ``lastAct.args`` is the tuple of the action's arguments."""
        if isinstance(args, Mapping):
            return dict(args)
        names = self.vocabulary.actions[action].param_names \
            if action in self.vocabulary else []
        return dict(zip(names, list(args), strict=False))

    def config_of(self, constants: Mapping[str, Any], printed: Any = None) -> dict[str, Any]:
        if not isinstance(printed, Mapping):
            raise ValueError("a Userptr model prints its configuration (@config) at start")
        ranges = {str(u): sorted(int(p) for p in pages)
                  for u, pages in printed["range"].items()}
        return {"pages": int(printed["np"]),
                "userptrs": {u: [ps[0], ps[-1] + 1] for u, ps in ranges.items()},
                "order": [str(u) for u in printed["userptrs"]],
                "gts": sorted(int(g) for g in printed["gts"]), "mode": str(printed["mode"]),
                "max_inv": int(printed["maxInv"]), "max_exec": int(printed["maxExec"]),
                "pin_errors": sorted(str(e) for e in printed["pinErrors"]),
                "write_pages": sorted(int(p) for p in printed["writePages"]),
                "destroy": bool(printed["unbind"]),
                "profile": str(printed["profile"])}

    def definitions(self, config: Mapping[str, Any]) -> list[str]:
        rng = {u: TlaSet(list(range(a, b))) for u, (a, b) in config["userptrs"].items()}
        return ["TrRange == " + tla(rng), "TrOrder == " + tla(list(config["order"]))]

    def constants(self, config: Mapping[str, Any], states: Sequence[Mapping[str, Any]]
                  ) -> list[str]:
        return [f"NP = {int(config['pages'])}",
                "Userptrs = " + tla(TlaSet(sorted(config["userptrs"]))),
                "Range <- TrRange", "UOrder <- TrOrder",
                "GTs = " + tla(TlaSet(list(config["gts"]))),
                f"Mode = {tla(config['mode'])}",
                f"MaxInv = {int(config['max_inv'])}", f"MaxExec = {int(config['max_exec'])}",
                "WritePages = " + tla(TlaSet(list(config["write_pages"]))),
                "PinErrors = " + tla(TlaSet(list(config["pin_errors"]))),
                "Unbind = " + tla(bool(config.get("destroy", False))),
                f"Profile = {tla(config['profile'])}", 'Bug = "none"']


CODEC = UserptrCodec()
