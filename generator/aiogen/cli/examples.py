"""The examples shown under every subcommand's ``--help`` (its epilog), in one table.

Keys are command names as typed after ``aiogen`` ("rollout check" for an action). Each example
runs as written from a checkout of this repository, or (``fleet/fleet.yaml``) from a GitOps
repository that `aiogen init` made; tests/test_cli_examples.py runs every one.
"""

from __future__ import annotations

EXAMPLES: dict[str, str] = {
    "render": """\
examples:
  aiogen render examples/fleet.yaml -o rendered                 one directory per cluster
  aiogen render examples/fleet.yaml -o - --cluster plant-lyon   one YAML stream on stdout
  aiogen render examples/fleet.yaml -o rendered --check         CI: exit 3 when rendered/ is stale
  aiogen render - -o - < examples/lab.yaml                      the spec on stdin (PEM paths: from here)""",
    "validate": """\
examples:
  aiogen validate examples/fleet.yaml
  aiogen validate examples/*.yaml --format json                 several specs, a JSON report""",
    "diff": """\
examples:
  aiogen diff examples/fleet.yaml -o rendered                   what `render -o rendered` would change""",
    "rollout": """\
examples:
  aiogen rollout check examples/rollover/01-prepare.yaml examples/rollover/02-distribute.yaml --now 2026-12-08
  aiogen rollout check --base origin/main fleet/fleet.yaml      CI: the spec at the base revision → now
  aiogen rollout plan examples/rollover/02-distribute.yaml --now 2026-12-10
  aiogen rollout advance examples/rollover/02-distribute.yaml root-2028 --now 2026-12-15 --dry-run""",
    "rollout check": """\
examples:
  aiogen rollout check examples/rollover/01-prepare.yaml examples/rollover/02-distribute.yaml --now 2026-12-08
  aiogen rollout check --base origin/main fleet/fleet.yaml --format json""",
    "rollout advance": """\
examples:
  aiogen rollout advance fleet/fleet.yaml root-2028 --dry-run   print the edited spec, change nothing
  aiogen rollout advance fleet/fleet.yaml root-2028             edit the spec in place""",
    "rollout plan": """\
examples:
  aiogen rollout plan examples/rollover/02-distribute.yaml --now 2026-12-10
  aiogen rollout plan examples/rollover/02-distribute.yaml --format json""",
    "simulate": """\
examples:
  aiogen simulate examples/lab.yaml
  aiogen simulate examples/rollover/0*.yaml --failures          a whole rollover, failed checks only""",
    "timeline": """\
examples:
  aiogen timeline examples/fleet.yaml --years 3
  aiogen timeline examples/fleet.yaml --format markdown > TIMELINE.md""",
    "precompile": """\
examples:
  aiogen precompile                                             once after pip install (and after any other)
  aiogen precompile --check                                     exit 3 when missing or stale""",
    "schema": """\
examples:
  aiogen schema > topology.schema.json                          for editors (yaml-language-server)""",
    "explain": """\
examples:
  aiogen explain spec.clusters.broker.listeners                 list items are implicit
  aiogen explain spec.defaults.leaf.duration""",
    "init": """\
examples:
  aiogen init fleet-repo --name contoso                         spec, offline root, CI, pre-commit
  aiogen init fleet-repo --name contoso --key-dir /media/offline/contoso""",
    "completion": """\
examples:
  aiogen completion bash > ~/.local/share/bash-completion/completions/aiogen
  aiogen completion zsh > "${fpath[1]}/_aiogen"
  aiogen completion fish > ~/.config/fish/completions/aiogen.fish""",
    "ca": """\
examples:
  aiogen ca root --out ~/offline --name contoso-root-2025 --common-name "Contoso Root 2025"
  aiogen ca intermediate --root-cert ~/offline/contoso-root-2025.pem --root-key ~/offline/contoso-root-2025.key \\
      --out ~/offline --name berlin-ica-2025 --common-name "Berlin ICA 2025"
  aiogen ca lint examples/pki/contoso-root-2025.pem""",
}
