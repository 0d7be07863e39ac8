"""No false passes: several specs judged as strictly as each alone, AIO's default listener as a
server, devices dialling external names, and rollout check on renamed SANs (issue 11)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, aiogen

ROLLOVER = EXAMPLES / "rollover"


@pytest.fixture
def rollover(tmp_path: Path) -> Path:
    shutil.copytree(ROLLOVER / "pki", tmp_path / "pki")
    for spec in ROLLOVER.glob("0*.yaml"):
        shutil.copy(spec, tmp_path / spec.name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))
    return path


def _failed(run_out: str) -> list[dict[str, object]]:
    return [c for c in json.loads(run_out)["checks"] if c["result"] == "FAIL"]


def test_the_example_rollout_passes_as_one_and_spec_by_spec() -> None:
    specs = sorted(ROLLOVER.glob("0*.yaml"))
    run = aiogen("simulate", *specs, "--json")
    assert run.code == 0, run.out[-2000:]
    phases = {c["phase"] for c in json.loads(run.out)["checks"]}
    assert "spec 4 (03-switch.yaml): root-2028 retire" in phases  # each spec alone, every phase of it
    assert "spec 3 (02-distribute.yaml)" in phases


def test_retiring_a_day_after_the_switch_fails_with_several_specs_as_with_one(rollover: Path) -> None:
    retire = _edit(rollover / "04-retire.yaml", 'retire: "2027-03-16"', 'retire: "2026-12-16"')
    alone = aiogen("simulate", retire, "--json")
    together = aiogen("simulate", rollover / "03-switch.yaml", retire, "--json")
    assert alone.code == 3 and together.code == 3
    reason = ("the server's chain ends at root contoso-root-2025, which these clients do not trust "
              "(they trust contoso-root-2028)")
    assert _failed(alone.out) and all(str(c["reason"]).startswith(reason) for c in _failed(alone.out))
    assert _failed(together.out) and all(str(c["reason"]).startswith(reason) for c in _failed(together.out))
    assert {c["phase"] for c in _failed(together.out)} >= {
        "spec 2 (04-retire.yaml): root-2028 retire: leaf signed by berlin-ica-2025 before switch"}


def test_retiring_before_the_default_listeners_90_day_leaves_expire_fails_everywhere(rollover: Path) -> None:
    # after the 30-day leaves of plant-mqtts (switch 2026-12-15), before AIO's default listener's 90-day ones
    retire = _edit(rollover / "04-retire.yaml", 'retire: "2027-03-16"', 'retire: "2027-01-20"')
    run = aiogen("simulate", retire, "--json")
    assert run.code == 3
    failed = _failed(run.out)
    assert {(c["listener"], c["port"]) for c in failed} == {("aio-broker", 18883)}
    assert {c["dials"] for c in failed} == {"aio-broker.azure-iot-operations.svc.cluster.local"}
    timeline = aiogen("timeline", retire, "--check")
    assert timeline.code != 0
    assert ("rotation root-2028: retire began 2027-01-20, but leaves signed under contoso-root-2025 until the switch "
            "day (2026-12-15) stay valid until 2027-03-16") in timeline.out + timeline.err
    check = aiogen("rollout", "check", rollover / "03-switch.yaml", retire, "--now", "2027-01-20")
    assert check.code != 0 and "AIO's default listener aio-broker:18883" in check.out + check.err


def test_a_distribute_lasting_no_day_fails_with_several_specs_as_with_one(rollover: Path) -> None:
    switch = _edit(rollover / "03-switch.yaml", 'switch: "2026-12-15"', 'switch: "2026-12-08"')
    alone = aiogen("simulate", switch, "--json")
    together = aiogen("simulate", rollover / "02-distribute.yaml", switch, "--json")
    assert alone.code == 3 and together.code == 3
    note = "distribute lasted 0d, less than minDwell 7d, so clients slower than that never saw it"
    assert any(note in str(c["reason"]) for c in _failed(alone.out))
    assert any(note in str(c["reason"]) for c in _failed(together.out))


def test_devices_on_an_x509_port_without_an_external_name_have_no_name_to_dial(rollover: Path) -> None:
    """What simulate would find (devices outside the cluster have no name to dial), validate already sees:
    every command that resolves the spec refuses it, at the port's san."""
    spec = _edit(rollover / "00-stable-root-2025.yaml",
                 "san: {dns: [mqtt.berlin.contoso.example], ip: [10.20.0.10], inClusterNames: true}",
                 "san: {inClusterNames: true}")
    for command in (("validate", spec), ("simulate", spec), ("render", spec, "-o", "-")):
        run = aiogen(*command)
        assert run.code == 1, command
        assert ("spec.clusters[0].broker.listeners[0].ports[0].tls.san: only in-cluster SANs: devices on this X.509 "
                "port have no name to dial that the certificate holds") in run.err, run.err


def test_rollout_check_breaks_on_a_renamed_san_naming_the_name_listener_and_population(rollover: Path) -> None:
    renamed = _edit(rollover / "01-prepare.yaml", "dns: [mqtt.munich.contoso.example]", "dns: [mqtt.muenchen.example]")
    run = aiogen("rollout", "check", rollover / "00-stable-root-2025.yaml", renamed, "--now", "2026-12-01")
    said = run.out + run.err
    assert run.code != 0
    assert ("plant-munich: clients outside the cluster (ca-bundle.pem) would not trust listener plant-mqtts:8883 "
            "after this change: they dial mqtt.munich.contoso.example, which the proposed certificate does not name "
            "(it names ") in said
    assert "keep mqtt.munich.contoso.example in the listener's san" in said


def test_rollout_check_notes_a_port_no_longer_served(rollover: Path) -> None:
    moved = _edit(rollover / "01-prepare.yaml", "- port: 8883\n                authentication: serviceAccountToken",
                  "- port: 8884\n                authentication: serviceAccountToken")
    run = aiogen("rollout", "check", rollover / "00-stable-root-2025.yaml", moved, "--now", "2026-12-01")
    assert ("plant-munich: listener plant-mqtts:8883 (plant-mqtts:8883) is no longer served; clients that connect "
            "there lose the broker, and aiogen does not judge removing a listener port") in run.out + run.err


def test_a_client_root_switch_on_the_distribute_day_fails_with_several_specs_as_with_one(tmp_path: Path) -> None:
    source = ROLLOVER / "client-root"
    shutil.copytree(source / "pki", tmp_path / "pki")
    for name in ("02-distribute.yaml", "03-switch.yaml"):
        shutil.copy(source / name, tmp_path / name)
    switch = _edit(tmp_path / "03-switch.yaml", 'switch: "2026-12-15"', 'switch: "2026-12-08"')
    alone = aiogen("simulate", switch, "--json")
    together = aiogen("simulate", tmp_path / "02-distribute.yaml", switch, "--json")
    assert alone.code == 3 and together.code == 3
    assert {c["phase"] for c in _failed(alone.out)} <= {
        str(c["phase"]).removeprefix("spec 2 (03-switch.yaml): ") for c in _failed(together.out)}
