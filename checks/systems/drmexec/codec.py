"""DrmExec's TLA+ encoding of the drmexec system's abstract values, and back.

The model and ``specs/DrmExec/DrmExec.tla`` share every variable's name and
shape: functions over threads or objects are records, a thread's locked
array is a sequence, "none" is ``""``.  ``Want`` (thread -> its object
array) is a function, which a ``.cfg`` cannot hold: the MC module prints the
configuration at start (``@config``), and trace validation defines it in the
data module and binds it with ``<-``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from checks.systems import VocabularyArgs
from checks.tlc.values import TlaSet, tla
from model.drmexec import VOCABULARY

_PER_THREAD = ("pc", "held", "idx", "contended", "pre", "stamp", "wounded", "rounds")


class DrmExecCodec(VocabularyArgs):
    """The :class:`~checks.systems.Codec` of ``drmexec``."""

    vocabulary = VOCABULARY

    def to_spec(self, var: str, value: Any) -> Any:
        return value

    def from_spec(self, var: str, value: Any) -> Any:
        if var == "held" and isinstance(value, dict):
            return {t: list(v) if isinstance(v, list | tuple) else v for t, v in value.items()}
        return value

    def config_of(self, constants: Mapping[str, Any], printed: Any = None) -> dict[str, Any]:
        if not isinstance(printed, dict):
            raise ValueError("a DrmExec model prints its configuration (@config) at start")
        threads = [str(t) for t in printed["threads"]]
        return {"threads": threads,
                "want": {t: [str(o) for o in printed["want"][t]] for t in threads},
                "rounds": int(printed["rounds"]), "algorithm": str(printed["algorithm"]),
                "dups": bool(printed["dups"])}

    def definitions(self, config: Mapping[str, Any]) -> list[str]:
        want = {t: list(config["want"][t]) for t in config["threads"]}
        return ["TrWant == " + tla(want)]

    def constants(self, config: Mapping[str, Any], states: Sequence[Mapping[str, Any]]
                  ) -> list[str]:
        objs = sorted({o for w in config["want"].values() for o in w})
        return [
            "Threads = " + tla(TlaSet(list(config["threads"]))),
            "Objs = " + tla(TlaSet(objs)),
            "Want <- TrWant",
            f"Rounds = {int(config['rounds'])}",
            f"Algorithm = {tla(config['algorithm'])}",
            f"Dups = {tla(bool(config['dups']))}",
            'Bug = "none"',
        ]


CODEC = DrmExecCodec()
