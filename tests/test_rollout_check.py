"""`aiogen rollout check`: the cases the example sequences do not show, and every way to call it wrong."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import aiogen
from tests.rollout_fleets import PKI, ClusterShape, Fleet, Stage, State, spec_for

PLANT = ClusterShape("plant-a", 720, node_port=False, node_port_leaf_hours=720, manual_port=False, client_bundles=1,
                     x509=True, moved=True, devices_moved=True)
GAPS = (7, 7, 100)  # prepare 2026-12-01, distribute 12-08, switch 12-15, retire 2027-03-25


def write(directory: Path, spec: dict[str, Any], name: str) -> Path:
    for pem in PKI.glob("*.pem"):
        if not (directory / pem.name).exists():
            shutil.copy(pem, directory)
    path = directory / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def pair(tmp_path: Path, fleet: Fleet, old: State, new: State) -> tuple[Path, Path]:
    return write(tmp_path, spec_for(fleet, old), "old.yaml"), write(tmp_path, spec_for(fleet, new), "new.yaml")


def errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("warning: ")]


def server(stage: Stage) -> State:
    return State(stage, "before")


def devices(stage: Stage) -> State:
    return State("before", stage)


@pytest.mark.parametrize(("old", "new"), [("before", "prepare"), ("prepare", "distribute"),
                                          ("distribute", "switch"), ("switch", "retire"), ("retire", "after")])
def test_intermediate_rotation_needs_no_trust_change(tmp_path: Path, old: Stage, new: Stage) -> None:
    fleet = Fleet("pinned-intermediate", "intermediate", (PLANT,), 365, GAPS)
    run = aiogen("rollout", "check", *pair(tmp_path, fleet, server(old), server(new)), "--now", "2026-12-15")
    assert run.code == 0, run.err
    if old != "before" and new != "after":
        assert (f"plant-a: rotation server {old} → {new}: intermediate rotation server needs no trust change: the old "
                "and the new intermediate both chain to root contoso-root-2025; servers may present contoso-root-2025, "
                "which every client population that reaches them (3) trusts before and after") in run.out


def test_intermediate_rotation_may_retire_on_the_switch_day(tmp_path: Path) -> None:
    fleet = Fleet("pinned-intermediate", "intermediate", (PLANT,), 365, GAPS)
    path = write(tmp_path, spec_for(fleet, server("switch")), "spec.yaml")
    plan = aiogen("rollout", "plan", path, "--now", "2026-12-15")
    assert plan.out.splitlines()[1] == ("  retire     2026-12-15  ready now    (any time after the switch: an "
                                        "intermediate rotation keeps the root, so certificates under the old "
                                        "intermediate stay trusted)")
    advance = aiogen("rollout", "advance", path, "server", "--now", "2026-12-15")
    assert advance.code == 0, advance.err


def test_client_root_without_max_leaf_lifetime_never_retires(tmp_path: Path) -> None:
    fleet = Fleet("pinned-intermediate", "serverRoot", (PLANT,), None, GAPS)
    run = aiogen("rollout", "check", *pair(tmp_path, fleet, devices("switch"), devices("retire")), "--now", "2030-01-01")
    assert run.code == 3
    assert errors(run.err)[0] == (
        "plant-a: the broker's client-CA ConfigMap client-ca (BrokerAuthentication x509-auth) would not trust devices "
        "presenting certificates from contoso-devices-2025 at retire: this change drops contoso-devices-2025 from the "
        "ConfigMap, but contoso-devices-2025 has no maxLeafLifetime, so aiogen cannot tell when the last device "
        "certificate issued under it expires (set maxLeafLifetime on client root contoso-devices-2025 (the longest "
        "certificate lifetime it issues); until then keep it trusted)")
    spec = tmp_path / "old.yaml"
    advance = aiogen("rollout", "advance", spec, "devices", "--now", "2030-01-01")
    assert advance.code == 3
    assert errors(advance.err) == [
        "rotation devices: aiogen cannot tell when retire becomes safe: client root contoso-devices-2025 has no "
        "maxLeafLifetime, so aiogen cannot tell when the last device certificate under it expires"]


def test_renaming_the_issuer_aio_uses_is_refused(tmp_path: Path) -> None:
    fleet = Fleet("pinned-intermediate", "serverRoot", (PLANT,), 365, GAPS)
    old = spec_for(fleet, server("before"))
    new = spec_for(fleet, server("before"))
    new["spec"]["defaults"] = {"issuer": {"name": "renamed-issuer"}}
    run = aiogen("rollout", "check", write(tmp_path, old, "old.yaml"), write(tmp_path, new, "new.yaml"),
                 "--now", "2026-12-01")
    assert run.code == 3
    assert errors(run.err)[0] == (
        "plant-a: AIO's trust settings were installed with --trust-settings configMapName=aio-trust-bundle configMapKey=ca.crt "
        "issuerKind=ClusterIssuer issuerName=aio-ca-issuer; the proposed spec says --trust-settings "
        "configMapName=aio-trust-bundle configMapKey=ca.crt issuerKind=ClusterIssuer issuerName=renamed-issuer. AIO "
        "keeps the names it was installed with, so its default listener and its components would lose their issuer or "
        "trust bundle (keep the issuer and the AIO trust bundle names stable; a rotation never needs to rename them)")


def test_a_root_whose_certificate_changed_is_refused(tmp_path: Path) -> None:
    fleet = Fleet("pinned-intermediate", "serverRoot", (PLANT,), 365, GAPS)
    old = spec_for(fleet, server("before"))
    new = spec_for(fleet, server("before"))
    new["spec"]["roots"]["contoso-root-2025"]["certificate"]["file"] = "fabrikam-root.pem"
    run = aiogen("rollout", "check", write(tmp_path, old, "old.yaml"), write(tmp_path, new, "new.yaml"),
                 "--now", "2026-12-01")
    assert run.code == 3
    assert "root contoso-root-2025 is a different certificate in the proposed spec (sha256 " in run.err
    assert ("clients that trust the deployed one would not trust the new one (give a new root a new name and roll "
            "over to it with a rotation)") in run.err


def test_manual_tls_ports_are_named_as_not_checked(tmp_path: Path) -> None:
    shape = ClusterShape("plant-a", 720, node_port=True, node_port_leaf_hours=24, manual_port=True, client_bundles=0,
                         x509=False, moved=True, devices_moved=False)
    fleet = Fleet("pinned-root", "serverRoot", (shape,), 365, GAPS)
    run = aiogen("rollout", "check", *pair(tmp_path, fleet, server("distribute"), server("switch")),
                 "--now", "2026-12-15")
    assert run.code == 0, run.err
    assert ("aiogen: note: plant-a: listener plant-nodeport:8885 serves a Manual TLS Secret; aiogen cannot see its chain, so "
            "make sure it chains to a root every client trusts before and after this change") in run.err.splitlines()
    assert run.out.rstrip().endswith("; listener plant-nodeport:8885 (Manual TLS) not checked")


def test_in_cluster_root_rollover(tmp_path: Path) -> None:
    fleet = Fleet("in-cluster-root", "serverRoot", (PLANT,), 365, GAPS)
    ok = aiogen("rollout", "check", *pair(tmp_path, fleet, server("distribute"), server("switch")), "--now", "2026-12-15")
    assert ok.code == 0, ok.err
    bad = aiogen("rollout", "check", *pair(tmp_path, fleet, server("prepare"), server("switch")), "--now", "2026-12-15")
    assert bad.code == 3
    assert ("plant-a: clients outside the cluster (ca-bundle.pem) would not trust listener plant-mqtts:8883 after the "
            "switch: root plant-a-root-b is not in their ca-bundle.pem yet") in bad.err


def test_a_new_cluster_is_noted_not_judged(tmp_path: Path) -> None:
    fleet = Fleet("pinned-intermediate", "serverRoot", (PLANT,), 365, GAPS)
    bigger = Fleet("pinned-intermediate", "serverRoot", (PLANT, ClusterShape(**{**PLANT.__dict__, "name": "plant-b"})),
                   365, GAPS)
    old = write(tmp_path, spec_for(fleet, server("before")), "old.yaml")
    new = write(tmp_path, spec_for(bigger, server("before")), "new.yaml")
    run = aiogen("rollout", "check", old, new, "--now", "2026-12-01")
    assert run.code == 0, run.err
    assert "note: plant-b: a new cluster; nothing is deployed there to compare with\n" in run.err


def test_usage_errors(tmp_path: Path) -> None:
    fleet = Fleet("pinned-intermediate", "serverRoot", (PLANT,), 365, GAPS)
    old, new = pair(tmp_path, fleet, server("before"), server("prepare"))
    both = aiogen("rollout", "check", old, new, "--base", "HEAD")
    assert (both.code, both.err) == (2, "give either OLD_SPEC NEW_SPEC, or --base REV NEW_SPEC, not both\n")
    one = aiogen("rollout", "check", new)
    assert (one.code, one.err) == (2, "rollout check needs OLD_SPEC and NEW_SPEC, or --base REV and NEW_SPEC\n")
    missing = aiogen("rollout", "check", tmp_path / "nope.yaml", new)
    assert (missing.code, missing.err) == (1, f"{tmp_path / 'nope.yaml'}: no such file\n")
    no_action = aiogen("rollout")
    assert no_action.code == 2
    assert "the following arguments are required: ACTION" in no_action.err
    bad_now = aiogen("rollout", "check", old, new, "--now", "tomorrow")
    assert bad_now.code == 2
    assert "'tomorrow' is not a date (YYYY-MM-DD) or ISO timestamp" in bad_now.err


def test_an_invalid_proposed_spec_is_reported_with_its_location(tmp_path: Path) -> None:
    fleet = Fleet("pinned-intermediate", "serverRoot", (PLANT,), 365, GAPS)
    old, new = pair(tmp_path, fleet, server("before"), server("prepare"))
    new.write_text(new.read_text().replace("phase: prepare", "phase: prepared"))
    run = aiogen("rollout", "check", old, new, "--now", "2026-12-01")
    assert run.code == 1
    assert "spec.rotations[0].phase: 'prepared' is not allowed; expected 'prepare', 'distribute', 'switch' or " \
           "'retire'" in run.err
    assert "Traceback" not in run.err
