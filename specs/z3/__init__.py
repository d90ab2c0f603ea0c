"""Z3 encodings of the pure functional cores, over 64-bit values.

The modules build terms and return them; they never print or solve
(``checks.prove`` and ``checks.z3step`` do):

``u64``
    unsigned 64-bit arithmetic in two exact forms (``BitVec(64)`` and
    integers with explicit wrap-around) and the record of wrap conditions;
``layout``
    the inputs of a split/merge relation: VM, layout of ``k`` mappings,
    request, and the model's validity conditions on them;
``splitmerge``
    ``sm_map`` of both profiles and ``sm_unmap`` as declarative relations
    from the inputs to the op list, and their known-bad variants;
``properties``
    the claims every relation must satisfy: translation per address, no
    overlap, op bounds, no address overflow;
``declarative``
    the split/merge rules as the seed's prose states them, written apart
    from the relation's definitions (keep iff compatible, no-op iff covered,
    merge widening, merge skips, pieces, range validity);
``paths``
    per-mapping case labels: the paths the conformance vectors cover;
``validation``
    argument validation of the i915, nouveau and xe VM_BIND front ends,
    as the seeds write it and as fixed;
``goal``, ``obligations``
    what an obligation asks of the solver, and every split/merge, front-end
    and lemma obligation by name;
``vmbo``
    the vm_bo system's reference-count obligations.
"""
