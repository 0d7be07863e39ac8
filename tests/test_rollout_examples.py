"""The two rollover sequences in examples/rollover/, step by step, through the CLI a user runs.

Each consecutive pair passes `aiogen rollout check`; each pair that skips a phase the clients need
fails and names the broken clients; going back a step is checked and explained; `rollout advance`
turns each file into the next one.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import pytest
import yaml

from tests.helpers import EXAMPLES, aiogen
from tests.regen_golden_rollover import SEQUENCES, sequence

ROOT = sequence(SEQUENCES["root"])
CLIENT = sequence(SEQUENCES["client-root"])
# The day each file's step is taken (00 is what is deployed before the rotation starts).
DAYS = {
    "root": ["2026-11-27", "2026-12-01", "2026-12-08", "2026-12-15", "2027-03-16", "2027-03-16"],
    "client-root": ["2026-11-27", "2026-12-01", "2026-12-08", "2026-12-15", "2027-12-16", "2027-12-16"],
}
PHASE = [0, 1, 2, 3, 4, 4]  # stable, prepare, distribute, switch, retire, finished (renders as retire)
FILES = {"root": ROOT, "client-root": CLIENT}


def check(old: Path, new: Path, now: str):  # type: ignore[no-untyped-def]
    return aiogen("rollout", "check", old, new, "--now", now)


def test_pem_copies_are_the_example_roots() -> None:
    """The sequences carry copies of examples/pki (the loader reads only beside the spec)."""
    for pki in (EXAMPLES / "rollover" / "pki", EXAMPLES / "rollover" / "client-root" / "pki"):
        for pem in pki.glob("*.pem"):
            assert filecmp.cmp(pem, EXAMPLES / "pki" / pem.name, shallow=False), pem


@pytest.mark.parametrize("name", ["root", "client-root"])
@pytest.mark.parametrize("step", range(1, 6))
def test_each_step_is_safe(name: str, step: int) -> None:
    files = FILES[name]
    run = check(files[step - 1], files[step], DAYS[name][step])
    assert run.code == 0, run.err
    assert run.out.startswith(f"rollout check: {files[step - 1]} → {files[step]} is safe on {DAYS[name][step]}\n")
    assert [line.split(":")[0].strip() for line in run.out.splitlines()[1:]] == ["plant-berlin", "plant-munich"]


SKIPS = [(name, i, j) for name in FILES for i in range(6) for j in range(i + 1, 6) if PHASE[j] - PHASE[i] >= 2]


@pytest.mark.parametrize(("name", "i", "j"), SKIPS, ids=[f"{n}-{i:02}-{j:02}" for n, i, j in SKIPS])
def test_skipping_a_phase_fails_naming_the_clients(name: str, i: int, j: int) -> None:
    files = FILES[name]
    run = check(files[i], files[j], DAYS[name][j])
    if (i, j) == (0, 2):  # only prepare is skipped: it stages CA material and changes no trust
        assert run.code == 0, run.err
        assert "starts in distribute, skipping prepare: harmless for trust" in run.err
        return
    assert run.code == 3, run.out + run.err
    lines = [line for line in run.err.splitlines() if " would not trust " in line]
    assert lines, run.err
    assert run.out.startswith(f"rollout check: {files[i]} → {files[j]} is NOT safe on ")
    if name == "root":
        broken = {line.split(": ", 1)[1].split(" would not trust ")[0] for line in lines}
        assert broken == {
            "clients in the AIO namespace 'azure-iot-operations' (Bundle contoso-aio-trust)",
            "clients in namespaces labelled contoso.io/mqtt-client=true (Bundle contoso-mqtt-trust)",
            "clients outside the cluster (ca-bundle.pem)",
        }
    else:
        assert all(line.startswith("plant-berlin: the broker's client-CA ConfigMap client-ca (BrokerAuthentication "
                                   "x509-auth) would not trust devices presenting certificates from contoso-devices-")
                   for line in lines)


def test_prepare_to_switch_names_every_broken_pair() -> None:
    run = check(ROOT[1], ROOT[3], "2026-12-15")
    assert run.code == 3
    why = "after the switch: root contoso-root-2028 is not in their bundle yet"
    assert run.err.splitlines() == [
        "aiogen: note: rotation root-2028 moves from prepare to switch, skipping distribute",
        "plant-berlin: clients in the AIO namespace 'azure-iot-operations' (Bundle contoso-aio-trust) would not trust "
        f"AIO's default listener aio-broker:18883 and listener plant-mqtts:8883 {why} (distribute first: every client "
        "must trust contoso-root-2028 before any server presents a certificate chained to it)",
        "plant-berlin: clients in namespaces labelled contoso.io/mqtt-client=true (Bundle contoso-mqtt-trust) would not "
        f"trust AIO's default listener aio-broker:18883 and listener plant-mqtts:8883 {why}",
        "plant-berlin: clients outside the cluster (ca-bundle.pem) would not trust listener plant-mqtts:8883 after the "
        "switch: root contoso-root-2028 is not in their ca-bundle.pem yet",
        "plant-munich: clients in the AIO namespace 'azure-iot-operations' (Bundle contoso-aio-trust) would not trust "
        f"AIO's default listener aio-broker:18883 and listener plant-mqtts:8883 {why}",
        "plant-munich: clients in namespaces labelled contoso.io/mqtt-client=true (Bundle contoso-mqtt-trust) would not "
        f"trust AIO's default listener aio-broker:18883 and listener plant-mqtts:8883 {why}",
        "plant-munich: clients outside the cluster (ca-bundle.pem) would not trust listener plant-mqtts:8883 after the "
        "switch: root contoso-root-2028 is not in their ca-bundle.pem yet",
    ]
    assert run.out == (f"rollout check: {ROOT[1]} → {ROOT[3]} is NOT safe on 2026-12-15: 10 (server, client population) "
                       "pair(s) on 2 cluster(s) would lose trust\n")


def test_retire_too_early_says_when_it_becomes_safe() -> None:
    run = check(ROOT[3], ROOT[4], "2027-02-01")
    assert run.code == 3
    assert ("plant-berlin: clients in the AIO namespace 'azure-iot-operations' (Bundle contoso-aio-trust) would not "
            "trust AIO's default listener aio-broker:18883 at retire: this change drops root contoso-root-2025 from "
            "their bundle, but leaves issued under it before the switch on 2026-12-15 stay valid until 2027-03-16 "
            "(retire on or after 2027-03-16)") in run.err.splitlines()
    # plant-mqtts:8883 leaves last 720h: they are gone by mid-January, so that listener is not named
    assert "trust listener plant-mqtts:8883 at retire" not in run.err
    later = check(ROOT[3], ROOT[4], "2027-03-16")
    assert later.code == 0, later.err


def test_client_root_retire_waits_for_max_leaf_lifetime() -> None:
    run = check(CLIENT[3], CLIENT[4], "2027-12-15")
    assert run.code == 3
    assert run.err.splitlines()[0] == (
        "plant-berlin: the broker's client-CA ConfigMap client-ca (BrokerAuthentication x509-auth) would not trust "
        "devices presenting certificates from contoso-devices-2025 at retire: this change drops contoso-devices-2025 "
        "from the ConfigMap, but device certificates issued under it before the switch on 2026-12-15 stay valid until "
        "2027-12-16 (retire on or after 2027-12-16)")


@pytest.mark.parametrize("name", ["root", "client-root"])
def test_going_back_from_switch_to_distribute_is_safe_and_explained(name: str) -> None:
    files = FILES[name]
    run = check(files[3], files[2], "2027-01-15")
    assert run.code == 0, run.err
    new_root = "contoso-root-2028" if name == "root" else "contoso-devices-2027"
    until = "2027-04-16" if name == "root" else "2028-01-16"
    assert run.err.splitlines()[0] == (
        f"aiogen: note: rotation {'root-2028' if name == 'root' else 'devices-2027'} goes back from switch to distribute: "
        f"certificates issued under {new_root} from the switch on 2026-12-15 until this change lands stay valid until "
        f"about {until}; keep {new_root} trusted until then (do not go back to prepare earlier: the spec no longer "
        "records the switch, so aiogen cannot check that step)")
    # both roots stay trusted, so leaves under either keep working
    assert "which every client population that reaches them (3) trusts before and after" in run.out


def test_safe_summary_says_why_per_cluster() -> None:
    run = check(ROOT[2], ROOT[3], "2026-12-15")
    assert run.out.splitlines() == [
        f"rollout check: {ROOT[2]} → {ROOT[3]} is safe on 2026-12-15",
        "  plant-berlin: rotation root-2028 distribute → switch: servers may present contoso-root-2025 and "
        "contoso-root-2028, which every client population that reaches them (3) trusts before and after; leaves "
        "under contoso-root-2025 from before the switch on 2026-12-15 stay valid until 2027-03-16, and "
        "contoso-root-2025 stays trusted; devices may present contoso-devices-2025, which the broker's client-CA "
        "ConfigMap trusts before and after",
        "  plant-munich: rotation root-2028 distribute → switch: servers may present contoso-root-2025 and "
        "contoso-root-2028, which every client population that reaches them (3) trusts before and after; leaves "
        "under contoso-root-2025 from before the switch on 2026-12-15 stay valid until 2027-03-16, and "
        "contoso-root-2025 stays trusted",
    ]


def test_distribute_too_early_waits_for_min_dwell() -> None:
    run = check(ROOT[2], ROOT[3], "2026-12-12")
    assert run.code == 3
    assert run.err.splitlines() == [
        "rotation root-2028: distribute began 2026-12-08, and minDwell 168h (7d) keeps it there until 2026-12-15, so "
        "every client has picked up the new trust (trust-manager sync, kubelet ConfigMap refresh, application reload, "
        "ca-bundle.pem handed to external clients) (take this step on or after 2026-12-15)",
    ]
    assert run.out == f"rollout check: {ROOT[2]} → {ROOT[3]} is NOT safe on 2026-12-12: 1 other reason(s) to wait or fix the spec\n"


@pytest.mark.parametrize("name", ["root", "client-root"])
@pytest.mark.parametrize("step", range(2, 6))
def test_advance_turns_each_file_into_the_next(name: str, step: int, tmp_path: Path) -> None:
    files = FILES[name]
    work = tmp_path / name
    shutil.copytree(files[0].parent, work, ignore=shutil.ignore_patterns("client-root"))
    spec = work / files[step - 1].name
    rotation = "root-2028" if name == "root" else "devices-2027"
    run = aiogen("rollout", "advance", spec, rotation, "--now", DAYS[name][step])
    assert run.code == 0, run.err
    assert yaml.safe_load(spec.read_text()) == yaml.safe_load(files[step].read_text())
    # only the header comment (which says which step this is) differs
    body = [line for line in spec.read_text().splitlines() if not line.startswith("#")]
    assert body == [line for line in files[step].read_text().splitlines() if not line.startswith("#")]


def test_plan_lists_the_remaining_steps() -> None:
    run = aiogen("rollout", "plan", ROOT[2], "--now", "2026-12-10")
    assert run.code == 0, run.err
    assert run.out.splitlines() == [
        "rotation root-2028 (serverRoot contoso-root-2025 → contoso-root-2028 on plant-berlin, plant-munich): in "
        "distribute since 2026-12-08",
        "  switch     2026-12-15  in 5 days    (distribute began 2026-12-08, plus minDwell 168h (7d))",
        "  retire     2027-03-16  in 96 days   (the switch day 2026-12-15 + 2160h (90d), the longest leaf lifetime "
        "under contoso-root-2025 (AIO's default listener aio-broker:18883 on plant-berlin))",
        "  finish     2027-03-16  in 96 days   (after retire: each cluster's pki.next becomes its pki and the rotation "
        "goes; the rendered output does not change)",
    ]
    stable = aiogen("rollout", "plan", ROOT[5])
    assert (stable.code, stable.out) == (0, f"{ROOT[5]}: no rotation in progress\n")
