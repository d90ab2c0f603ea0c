"""The registration a front-end system shares: an errno history, an oracle, its folders.

A front end (nouveau, xe, and the systems after them) records ``lastErr``
(``"OK"`` or the errno of the last action) after the model's abstract state,
checks each accepted step with ``checks.systems.<name>.oracle``'s
``check_<name>_step``, and keeps its codec, machines, runs and renderer in
``checks.systems.<name>``'s modules of those names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from checks.systems import System
from model.actions import Vocabulary
from model.trace import Event


def errno_history(ev: Event | None) -> dict[str, Any]:
    """``lastErr``: ``"OK"``, or the errno the last action returned."""
    return {"lastErr": "OK" if ev is None or ev.errno is None else ev.errno}


def front_end(name: str, spec: str, summary: str, vocabulary: Vocabulary, component: Any,
              state: tuple[str, ...], check_state: Callable[[Any], None],
              required: tuple[str, ...], logged: tuple[str, ...],
              max_hidden: int = 0) -> System:
    """The :class:`System` of a front end whose trace state is ``state`` + ``lastErr``."""
    def variables(config: Mapping[str, Any]) -> tuple[str, ...]:
        return (*state, "lastErr")

    def check_step(config: Mapping[str, Any], before: Mapping[str, Any], action: str,
                   args: Mapping[str, Any], result: Any, after: Mapping[str, Any]) -> None:
        oracle = importlib.import_module(f"checks.systems.{name}.oracle")
        getattr(oracle, f"check_{name}_step")(config, before, action, args, result, after)

    pkg = f"checks.systems.{name}"
    return System(name=name, spec=spec, summary=summary, vocabulary=vocabulary,
                  component=component, history=errno_history, variables=variables,
                  check_state=check_state, check_step=check_step,
                  codec_ref=f"{pkg}.codec:CODEC", machines_ref=f"{pkg}.machine:MACHINES",
                  runs_ref=f"{pkg}.runs:record_runs", run_variants=("fixed",),
                  render_ref=f"{pkg}.render:RENDERER", required=required,
                  extra={"logged": logged, "max_hidden": max_hidden})


class RunsCodec:
    """A codec's configuration side, from the system's runs module: a TLC model
    prints its configuration (``@config``), which ``model_config`` turns into the
    model's; a run's configuration becomes the spec's programs (``spec_programs``)
    and constants (``spec_constants``)."""

    #: the spec's name and ``checks.systems.<name>.runs``
    spec_name: str = ""
    runs_module: str = ""

    def config_of(self, constants: Mapping[str, Any], printed: Any = None) -> dict[str, Any]:
        if not isinstance(printed, dict):
            raise ValueError(f"a {self.spec_name} model prints its configuration (@config) "
                             "at start")
        config: dict[str, Any] = importlib.import_module(self.runs_module).model_config(printed)
        return config

    def definitions(self, config: Mapping[str, Any]) -> list[str]:
        from checks.tlc.values import tla

        programs = importlib.import_module(self.runs_module).spec_programs(config)
        return ["TrPrograms == " + tla(programs)]

    def constants(self, config: Mapping[str, Any], states: Sequence[Mapping[str, Any]]
                  ) -> list[str]:
        out: list[str] = importlib.import_module(self.runs_module).spec_constants(config)
        return out
