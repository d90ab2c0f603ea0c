"""The interval store against a naive reference, with tiny blocks so they split."""

from __future__ import annotations

import random

import pytest

from model.gpuva import Va
from model.store import SortedStore


@pytest.mark.parametrize("seed", range(20))
def test_store_matches_a_naive_list(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SortedStore, "LOAD", 3)
    rng = random.Random(seed)
    store: SortedStore[Va] = SortedStore()
    ref: dict[int, Va] = {}
    for _ in range(400):
        if ref and rng.random() < 0.4:
            key = rng.choice(sorted(ref))
            assert store.remove(key) == ref.pop(key)
        else:
            a = rng.randrange(0, 300) * 3
            if not any(v.addr < a + 2 and a < v.end for v in ref.values()):
                va = Va(a, 2, "g", a)
                store.insert(va)
                ref[a] = va
        q = rng.randrange(0, 1000)
        e = q + rng.randrange(1, 40)
        assert store.overlapping(q, e) == sorted(
            v for v in ref.values() if v.addr < e and q < v.end)
        cover = [v for v in ref.values() if v.addr <= q < v.end]
        assert store.covering(q) == (cover[0] if cover else None)
        assert store.at(q) == ref.get(q)
    assert list(store) == sorted(ref.values()) and len(store) == len(ref)
