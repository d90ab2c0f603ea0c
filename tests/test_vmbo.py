"""The vm_bo model: references, links, lists, and the seed's flaws as findings."""

from __future__ import annotations

import copy

import pytest

from checks.systems.vmbo.machine import (
    MACHINES,
    Rfc2023SerialMachine,
    UpstreamMachine,
    config,
    record_runs,
)
from model.errors import GpuVmError, InvalidArgument, InvariantViolation, NotFound, NotSupported
from model.vmbo import VOCABULARY, VmBoSystem
from model.vmbo_invariants import check_vmbo, check_vmbo_step

TestUpstream = UpstreamMachine.TestCase
TestRfc2023Serial = Rfc2023SerialMachine.TestCase


def make(profile: str = "upstream", list_mode: str = "spinlock",
         immediate: bool = False) -> VmBoSystem:
    return VmBoSystem.from_config(config(profile, list_mode, immediate))


def do(s: VmBoSystem, action: str, **args: object) -> object:
    result = VOCABULARY.perform(s, action, args)
    check_vmbo(s)
    return result


def bo(s: VmBoSystem, vm: str, gem: str, n: int = 1) -> dict[str, object]:
    return next(b for b in s.abstract()["vmbos"]
                if (b["vm"], b["gem"], b["n"]) == (vm, gem, n))


def test_upstream_obtain_publishes_and_refcounts_follow_the_links() -> None:
    s = make()
    assert do(s, "Obtain", job="j1", vm="v1", gem="e") == ("v1", "e", 1)
    assert bo(s, "v1", "e")["listed"] and bo(s, "v1", "e")["kref"] == 1
    assert do(s, "Obtain", job="j2", vm="v1", gem="e") == ("v1", "e", 1)  # found: +1
    do(s, "Map", job="j1", vm="v1", addr=0, range=2, gem="e", offset=0)
    assert bo(s, "v1", "e")["kref"] == 3 and bo(s, "v1", "e")["vas"] == [0]
    a = s.abstract()
    assert a["gems"]["e"]["ref"] == 2 and a["vms"]["v1"]["ref"] == 3  # user + vm_bo + VA


def test_remap_links_the_pieces_to_the_old_vm_bo() -> None:
    for profile in ("upstream", "rfc2023"):
        s = make(profile)
        do(s, "Obtain", job="j1", vm="v1", gem="e")
        do(s, "Map", job="j1", vm="v1", addr=0, range=3, gem="e", offset=0)
        do(s, "Put", job="j1", vm="v1", gem="e")  # only the VA holds it now
        do(s, "Unmap", vm="v1", addr=1, range=1)  # a two-piece REMAP
        b = bo(s, "v1", "e")
        assert b["vas"] == [0, 2] and b["kref"] == 2, profile
        do(s, "Unmap", vm="v1", addr=0, range=4)
        assert s.abstract()["vmbos"] == [] and s.abstract()["gems"]["e"]["ref"] == 1


def test_unmap_ops_create_is_link_order_and_changes_no_reference() -> None:
    s = make()
    do(s, "Obtain", job="j1", vm="v1", gem="p")
    do(s, "Map", job="j1", vm="v1", addr=2, range=1, gem="p", offset=0)
    do(s, "Map", job="j1", vm="v1", addr=0, range=1, gem="p", offset=0)
    before = s.abstract()
    ops = do(s, "UnmapOpsCreate", vm="v1", gem="p")
    assert [op.va.addr for op in ops] == [2, 0]  # type: ignore[attr-defined]
    check_vmbo_step(before, "UnmapOpsCreate", {"vm": "v1", "gem": "p"}, ops, s.abstract())
    assert do(s, "UnmapOpsCreate", vm="v2", gem="p") == []  # this VM only


def test_extobj_is_for_external_gems_only_and_validate_revalidates() -> None:
    for mode in ("spinlock", "resv"):
        s = make(list_mode=mode)
        for vm, gem in (("v1", "p"), ("v2", "p"), ("v1", "e")):
            do(s, "Obtain", job="j1", vm=vm, gem=gem)
        assert do(s, "ExtobjAdd", job="j1", vm="v1", gem="p") is False  # shares v1's resv
        assert do(s, "ExtobjAdd", job="j1", vm="v2", gem="p") is True  # external in v2
        assert do(s, "ExtobjAdd", job="j1", vm="v2", gem="p") is False  # already listed
        do(s, "Evict", gem="p", evict=True)
        assert bo(s, "v2", "p")["evicted"] and bo(s, "v2", "p")["evict"] == (mode == "spinlock")
        assert do(s, "Validate", vm="v2") == ["resv:v1", "resv:v2"]  # p shares v1's
        assert not bo(s, "v2", "p")["evict"] and not s.abstract()["gems"]["p"]["evicted"]
        do(s, "Evict", gem="p", evict=True)
        do(s, "Put", job="j1", vm="v2", gem="p")  # destroyed: off the extobj and evict lists
        assert (s.vms["v2"].extobj, s.vms["v2"].evict) == ([], [])
        assert do(s, "Validate", vm="v2") == ["resv:v2"]


def test_immediate_mode_defers_the_last_put_until_cleanup() -> None:
    s = make(list_mode="resv", immediate=True)
    do(s, "Obtain", job="j1", vm="v2", gem="e")
    do(s, "ExtobjAdd", job="j1", vm="v2", gem="e")
    do(s, "PutDeferred", job="j1", vm="v2", gem="e")
    zombie = bo(s, "v2", "e")
    assert zombie["kref"] == 0 and not zombie["listed"] and zombie["extobj"]  # resv mode
    assert do(s, "Obtain", job="j2", vm="v2", gem="e") == ("v2", "e", 2)  # find skips it
    assert do(s, "Validate", vm="v2") == ["resv:v2"]  # the zombie on extobj is skipped
    do(s, "DeferredCleanup", vm="v2")
    assert [b["n"] for b in s.abstract()["vmbos"]] == [2]
    with pytest.raises(NotSupported):
        VOCABULARY.perform(make(), "PutDeferred", {"job": "j1", "vm": "v1", "gem": "e"})


def test_validate_skips_a_dying_vm_bo_on_the_evict_list() -> None:
    s = make(list_mode="resv", immediate=True)
    do(s, "Obtain", job="j1", vm="v1", gem="p")  # p shares v1's resv: evicts go on the list
    do(s, "Evict", gem="p", evict=True)
    do(s, "PutDeferred", job="j1", vm="v1", gem="p")
    dying = bo(s, "v1", "p")
    assert dying["kref"] == 0 and dying["evict"]
    before = s.abstract()
    locked = do(s, "Validate", vm="v1")
    check_vmbo_step(before, "Validate", {"vm": "v1"}, locked, s.abstract())
    assert bo(s, "v1", "p")["evict"]  # still there, waiting for its cleanup
    do(s, "DeferredCleanup", vm="v1")
    assert s.abstract()["vmbos"] == []
    taken_off = copy.deepcopy(before)
    taken_off["vmbos"][0]["evict"] = False  # what a walker taking it would leave
    with pytest.raises(InvariantViolation, match="ValidateSkipsDyingInv"):
        check_vmbo_step(before, "Validate", {"vm": "v1"}, locked, taken_off)


def test_the_vm_is_freed_at_its_last_reference() -> None:
    s = make()
    do(s, "Obtain", job="j1", vm="v1", gem="e")
    do(s, "Map", job="j1", vm="v1", addr=0, range=1, gem="e", offset=0)
    do(s, "VmPut", vm="v1")
    assert s.abstract()["vms"]["v1"] == {"ref": 2, "user": False, "alive": True}
    with pytest.raises(NotFound):
        VOCABULARY.perform(s, "Map", {"job": "j1", "vm": "v1", "addr": 1, "range": 1,
                                      "gem": "e", "offset": 1})
    do(s, "Put", job="j1", vm="v1", gem="e")  # a job may still put its handle
    assert s.abstract()["vms"]["v1"]["alive"]  # the VA still holds it


def test_rejections_leave_everything_as_it_was() -> None:
    s = make()
    do(s, "Obtain", job="j1", vm="v1", gem="e")
    do(s, "Map", job="j1", vm="v1", addr=0, range=2, gem="e", offset=0)
    before = copy.deepcopy(s.abstract())
    for action, args, errno in (
            ("Map", {"job": "j2", "vm": "v1", "addr": 2, "range": 1, "gem": "e", "offset": 0},
             "EINVAL"),  # j2 holds no handle
            ("Map", {"job": "j1", "vm": "v1", "addr": 3, "range": 2, "gem": "e", "offset": 0},
             "EINVAL"),  # past the VM's end
            ("Obtain", {"job": "j9", "vm": "v1", "gem": "e"}, "ENOENT"),
            ("Put", {"job": "j1", "vm": "v1", "gem": "nope"}, "ENOENT"),
            ("Evict", {"gem": "zz", "evict": True}, "ENOENT")):
        with pytest.raises(GpuVmError) as e:
            VOCABULARY.perform(s, action, args)
        assert e.value.errno_name == errno
        assert s.abstract() == before


def test_seed_obtain_gives_two_vm_bos_of_one_pair_y1() -> None:
    s = make("rfc2023")
    do(s, "Obtain", job="j1", vm="v1", gem="e")
    VOCABULARY.perform(s, "Obtain", {"job": "j2", "vm": "v1", "gem": "e"})
    # the first is not findable yet: two vm_bos of the pair are alive
    with pytest.raises(InvariantViolation, match=r"VmBoUniqueInv.*alive"):
        check_vmbo(s)
    VOCABULARY.perform(s, "Map", {"job": "j1", "vm": "v1", "addr": 0, "range": 1,
                                  "gem": "e", "offset": 0})
    VOCABULARY.perform(s, "Map", {"job": "j2", "vm": "v1", "addr": 1, "range": 1,
                                  "gem": "e", "offset": 1})
    assert sum(b.listed for b in s.vmbos.values()) == 2  # both published by their link


def test_seed_vm_put_frees_the_vm_under_its_vm_bos_y5() -> None:
    s = make("rfc2023")
    do(s, "Obtain", job="j1", vm="v1", gem="e")
    VOCABULARY.perform(s, "VmPut", {"vm": "v1"})
    with pytest.raises(InvariantViolation, match="NoUseAfterFreeInv"):
        check_vmbo(s)
    with pytest.raises(InvariantViolation, match="NoUseAfterFreeInv"):
        VOCABULARY.perform(s, "Put", {"job": "j1", "vm": "v1", "gem": "e"})  # destroy reads it


def test_restore_round_trips_and_refuses_bad_states() -> None:
    s = make(list_mode="resv", immediate=True)
    do(s, "Obtain", job="j1", vm="v2", gem="p")
    do(s, "Map", job="j1", vm="v2", addr=1, range=2, gem="p", offset=3)
    do(s, "ExtobjAdd", job="j1", vm="v2", gem="p")
    t = VmBoSystem.from_config(s.config())
    t.restore(s.abstract())
    assert t.abstract() == s.abstract()
    check_vmbo(t)
    before = t.abstract()
    bad = copy.deepcopy(before)
    bad["vmbos"][0]["vas"] = [3]  # no VA starts there
    with pytest.raises(InvalidArgument):
        t.restore(bad)
    assert t.abstract() == before
    with pytest.raises(InvalidArgument):
        VmBoSystem.from_config({"vms": {}, "gems": {"g": "v9"}, "jobs": []})


def test_every_machine_is_registered_and_record_runs_is_deterministic() -> None:
    assert set(MACHINES) == {"vmbo-upstream", "vmbo-upstream-immediate", "vmbo-rfc2023",
                             "vmbo-rfc2023-serial"}
    a = record_runs(50, 3, "upstream-immediate")
    assert [t.to_itf() for t in a] == [t.to_itf() for t in record_runs(50, 3,
                                                                      "upstream-immediate")]
    actions = {s.action for t in a for s in t.steps}
    assert {"Obtain", "Map", "Put", "DeferredCleanup", "PutDeferred"} <= actions
