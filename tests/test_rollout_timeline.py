"""aiogen timeline: lifetimes over the next years, children outliving issuers, rotations dwelling too briefly."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiogen.pipeline import load_plan
from aiogen.rollout import timeline
from tests.helpers import EXAMPLES, REPO, aiogen, make_ca_pem

FIXTURES = REPO / "tests" / "fixtures" / "simulate"
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def build(spec: Path, years: int = 5) -> timeline.Timeline:
    return timeline.build(load_plan(spec, now=NOW), start=NOW, years=years)


def test_managed_certificates_renew_on_schedule() -> None:
    result = build(EXAMPLES / "lab-intermediate.yaml")
    classes = {c.label: c for c in result.classes}
    leaf = classes["leaf lab-mqtts:8883"]
    assert leaf.managed and leaf.issuer == "intermediate aio-ca-issuer-lab-2-root"
    assert [g.issued.date().isoformat() for g in leaf.generations[:3]] == ["2026-11-27", "2026-12-17", "2027-01-06"]
    assert all(g.expires - g.issued == timedelta(hours=720) for g in leaf.generations)
    assert len(leaf.generations) == 92  # every 20 days for 5 years
    intermediate = classes["intermediate aio-ca-issuer-lab-2-root"]
    assert [g.issued.date().isoformat() for g in intermediate.generations] == ["2026-11-27", "2028-08-28",
                                                                                 "2030-05-30"]
    assert result.flags == ()


def test_brought_in_intermediate_expiring_is_flagged_with_the_leaf_that_outlives_it() -> None:
    result = build(EXAMPLES / "fleet.yaml")
    errors = [f for f in result.flags if f.severity == "error"]
    assert [(f.at.date().isoformat(), f.cluster) for f in errors] == [("2030-03-11", "plant-berlin"),
                                                                      ("2030-05-10", "plant-berlin"),
                                                                      ("2030-06-01", "plant-berlin")]
    # AIO's default listener: the same issuer signs its 90-day leaves, so they outlive the intermediate first
    assert errors.pop(0).message == (
        "leaf aio-broker:18883 issued 2030-03-11 expires 2030-06-09, after the intermediate berlin-ica-2025 that "
        "signs it (2030-06-01): the chain breaks 2030-06-01 (cert-manager does not clip notAfter: "
        "https://github.com/cert-manager/cert-manager/issues/5864)")
    assert errors[0].message == (
        "leaf plant-mqtts:8883 issued 2030-05-10 expires 2030-06-09, after the intermediate berlin-ica-2025 that "
        "signs it (2030-06-01): the chain breaks 2030-06-01 (cert-manager does not clip notAfter: "
        "https://github.com/cert-manager/cert-manager/issues/5864)")
    assert errors[1].message == ("intermediate berlin-ica-2025 expires 2030-06-01 and cert-manager does not renew "
                                 "brought-in material: rotate it before then")
    unknown = {f.subject for f in result.flags if f.severity == "warning"}
    assert unknown == {"intermediate munich-ica-2025", "intermediate lyon-ica-2025"}


def test_a_leaf_that_would_outlive_a_pinned_root_is_flagged(tmp_path: Path) -> None:
    pem, _, _ = make_ca_pem("Short Root", not_before=datetime(2025, 1, 1, tzinfo=UTC), lifetime=timedelta(days=1000))
    (tmp_path / "root.pem").write_text(pem)
    spec = tmp_path / "spec.yaml"
    spec.write_text("""apiVersion: aiogen.io/v1alpha1
kind: Topology
metadata: {name: short}
spec:
  roots:
    short-root: {certificate: {file: root.pem}, secret: {name: short-root-ca}}
  clusters:
    - name: lab-1
      pki: {mode: single-root, root: short-root}
      broker:
        listeners:
          - name: lab-mqtts
            serviceType: LoadBalancer
            ports:
              - {port: 8883, authentication: serviceAccountToken, tls: {san: {dns: [mqtt.example]}}}
""")
    result = build(spec, years=2)
    messages = [f.message for f in result.flags if not f.message.startswith("leaf aio-broker:18883 ")]
    assert messages[0].startswith("leaf lab-mqtts:8883 issued 2027-09-03 expires 2027-10-03, after the root "
                                  "short-root that signs it (2027-09-28)")
    assert messages[1] == ("root short-root expires 2027-09-28 and cert-manager does not renew brought-in material: "
                           "rotate it before then")


def test_rotation_dwell_too_short_is_flagged() -> None:
    skipped = build(FIXTURES / "broken-skipped-phase.yaml")
    [flag] = [f for f in skipped.flags if f.subject == "rotation root-2028"]
    assert flag.message == ("rotation root-2028: distribute lasted 0d, less than minDwell 7d; clients slower than that "
                            "never saw it")
    early = build(FIXTURES / "broken-retire-too-early.yaml")
    [flag] = [f for f in early.flags if f.subject == "rotation root-b"]
    assert flag.message == ("rotation root-b: retire began 2026-01-25, but leaves signed under lab-1-root-a until the "
                            "switch day (2026-01-20) stay valid until 2026-04-21")  # AIO's default listener: 90-day leaves


def test_rotation_schedule_lists_recorded_and_earliest_dates() -> None:
    result = build(FIXTURES / "rollover-server-root.yaml")
    schedule = [(p.phase, p.begins.isoformat(), p.recorded) for p in result.phases]
    assert schedule[:3] == [("prepare", "2026-10-01", True), ("distribute", "2026-10-15", True),
                            ("switch", "2026-10-22", False)]
    assert schedule[3][0] == "retire" and not schedule[3][2]
    assert not [f for f in result.flags if f.severity == "error"]


def test_mermaid_gantt_is_well_formed() -> None:
    text = timeline.format_mermaid(build(EXAMPLES / "fleet.yaml"))
    lines = text.splitlines()
    assert lines[:4] == ["gantt", "    title contoso-plants certificates 2026-11-27 to 2031-11-27",
                         "    dateFormat YYYY-MM-DD", "    axisFormat %Y-%m"]
    assert "    section plant-berlin" in lines and "    section flags" in lines
    task = re.compile(r"^    [^:#;]+ :((crit, )?(milestone|active|done), )?t\d+, \d{4}-\d{2}-\d{2}, \d+d$")
    for line in lines[4:]:
        assert line.startswith("    section ") or task.match(line), line
    ids = [m.group(1) for m in re.finditer(r" (t\d+), ", text)]
    assert len(ids) == len(set(ids))


def test_cli_formats_and_check() -> None:
    table = aiogen("timeline", EXAMPLES / "fleet.yaml", "--now", "2026-11-27")
    assert table.code == 0
    assert table.out.splitlines()[2].split() == ["CLUSTER", "CERTIFICATE", "ISSUER", "ISSUED", "RENEWS", "EXPIRES",
                                                  "GENERATIONS"]
    assert aiogen("timeline", EXAMPLES / "fleet.yaml", "--now", "2026-11-27", "--check").code == 3
    assert aiogen("timeline", EXAMPLES / "lab.yaml", "--now", "2026-11-27", "--check").code == 0
    markdown = aiogen("timeline", EXAMPLES / "lab.yaml", "--now", "2026-11-27", "--format", "markdown").out
    assert markdown.startswith("```\nlab: 2026-11-27 to 2031-11-27\n") and "```mermaid\ngantt\n" in markdown
    data = json.loads(aiogen("timeline", EXAMPLES / "lab.yaml", "--now", "2026-11-27", "--format", "json",
                             "--years", "1").out)
    assert data["end"] == "2027-11-27T00:00:00+00:00"
    assert [c["name"] for c in data["classes"]] == ["lab-1-root", "lab-mqtts:8883", "aio-broker:18883"]
    bad = aiogen("timeline", EXAMPLES / "lab.yaml", "--years", "0")
    assert bad.code == 2 and "between 1 and 50" in bad.err
