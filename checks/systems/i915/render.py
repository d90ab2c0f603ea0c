"""Drawing an i915 trace: each VM's persistent VMAs in hex, and the GEM references.

::

    VM 1 (vm_bind): [0x110000, +0x10000) h1@0x0
    VM 2: -
    refs: h1 2, h2 1, h3 1
"""

from __future__ import annotations

from checks.render import PlainRenderer
from checks.traces import Step, Trace


class I915Renderer(PlainRenderer):
    """VMAs and references; no VA bar."""

    def title(self, trace: Trace) -> str:
        gems = ", ".join(f"h{h} {s:#x} ({p:#x} pages)"
                         for h, (s, p) in trace.config.get("gems", {}).items())
        return f"profile {trace.config.get('profile', '?')}, objects {gems}"

    def lines(self, step: Step, prev: Step | None) -> list[str]:
        out = []
        for v, vm in step.state.get("vms", {}).items():
            vmas = " ".join(f"[{x[0]:#x}, +{x[1]:#x}) h{x[2]}@{x[3]:#x}" for x in vm["vmas"])
            mode = " (vm_bind)" if vm.get("vm_bind") else ""
            out.append(f"    VM {v}{mode}: {vmas or '-'}")
        refs = ", ".join(f"h{h} {g['refs']}" for h, g in step.state.get("gems", {}).items())
        if prev is None or prev.state.get("gems") != step.state.get("gems"):
            out.append(f"    refs: {refs}")
        start = step.state.get("lastStart", -1)
        if step.action == "VmBind" and isinstance(start, int) and start >= 0:
            out.append(f"    the caller reads back start = {start:#x}")
        return out


RENDERER = I915Renderer()
