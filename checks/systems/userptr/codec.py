"""Userptr.tla's values and the model's: the configuration a TLC model prints, and its
states as ITF values (functions as records, sets as sorted lists)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from checks.systems import VocabularyArgs
from checks.tlc.values import TlaFcn, TlaSet
from model.userptr import VOCABULARY


def _plain(value: Any) -> Any:
    if isinstance(value, TlaSet):
        return sorted((_plain(x) for x in value), key=repr)
    if isinstance(value, TlaFcn):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(x) for x in value]
    return value


class UserptrCodec(VocabularyArgs):
    vocabulary = VOCABULARY

    def to_spec(self, var: str, value: Any) -> Any:
        return value

    def args_from_spec(self, action: str, args: Any) -> dict[str, Any]:
        """Userptr.tla's ``lastAct.args`` is the tuple of the action's arguments."""
        if isinstance(args, Mapping):
            return dict(args)
        names = self.vocabulary.actions[action].param_names \
            if action in self.vocabulary else []
        return dict(zip(names, list(args), strict=False))

    def from_spec(self, var: str, value: Any) -> Any:
        return _plain(value)

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
                "hmm_timeout": "EBUSY" in {str(e) for e in printed["pinErrors"]},
                "profile": str(printed["profile"])}

    def constants(self, config: Mapping[str, Any], states: Sequence[Mapping[str, Any]]
                  ) -> list[str]:
        raise ValueError("the userptr model's runs are not validated against Userptr yet")

    def definitions(self, config: Mapping[str, Any]) -> list[str]:
        return []


CODEC = UserptrCodec()
