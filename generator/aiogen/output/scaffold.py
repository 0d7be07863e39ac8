"""What does a new GitOps repository for aiogen hold? `aiogen init` writes it, never over anything.

    DIR/fleet/fleet.yaml               a commented spec that validates: one cluster under the offline root
    DIR/fleet/pki/NAME-root-YYYY.pem   the offline root's certificate (public)
    DIR/fleet/topology.schema.json     the spec's JSON Schema, for editors (yaml-language-server)
    DIR/.gitignore                     refuses private keys (*.key, *.kv.pem, *.pfx, *.p12, *-key.pem)
    DIR/.pre-commit-config.yaml        aiogen's own pre-commit hook (.pre-commit-hooks.yaml)
    DIR/.github/workflows/aiogen.yml   CI: validate, render --check, rollout check --base
    DIR/README.md                      what is where, what to do next
    KEY_DIR/NAME-root-YYYY.key         the root's private key (0600), OUTSIDE the repository

The key directory must not be inside DIR nor inside any git work tree: a key that can be
committed eventually is. Files that exist are kept as they are, and reported as kept.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template

from aiogen import __version__
from aiogen.model.problems import AiogenError

_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?")
ROOT_VALIDITY = timedelta(days=20 * 365)
HOOKS_REPO = "https://github.com/<org>/aiogen"  # where this repository's .pre-commit-hooks.yaml is published
_FILE_MODE = 0o644
_KEY_MODE = 0o600

GITIGNORE = """\
# Private keys never belong in this repository (aiogen init keeps the root's key outside it).
*.key
*.kv.pem
*.pfx
*.p12
*-key.pem
# aiogen render --check output in CI
render.diff
"""

PRE_COMMIT = Template("""\
# pre-commit (https://pre-commit.com): `pre-commit install` once, then every commit checks that
# clusters/ is what fleet/fleet.yaml renders to (the hooks are aiogen's .pre-commit-hooks.yaml).
repos:
  - repo: $hooks_repo
    rev: v$version
    hooks:
      - id: aiogen-render-check
        args: [fleet/fleet.yaml, -o, clusters]
""")

SPEC = Template("""\
# yaml-language-server: $$schema=topology.schema.json
# The topology of the $name fleet. Every field is documented by `aiogen explain FIELD.PATH`
# (e.g. `aiogen explain spec.clusters.broker.listeners`) and in docs/spec.md.
apiVersion: aiogen.io/v1alpha1
kind: Topology
metadata:
  name: $name
spec:
  # The offline root: only its public certificate is here. Its private key stays offline
  # ($key_path); use it only to sign a new cluster's intermediate (aiogen ca intermediate).
  roots:
    $root:
      certificate: {file: pki/$root.pem}
  clusters:
    - name: $cluster
      pki:
        # The cluster signs broker certificates with its own intermediate CA, signed by the root:
        #   aiogen ca intermediate --root-cert fleet/pki/$root.pem --root-key $key_path \\
        #     --out $key_dir --name $cluster-ica --common-name "$cluster intermediate CA"
        #   kubectl create secret tls $cluster-ica -n cert-manager \\
        #     --cert $key_dir/$cluster-ica.chain.pem --key $key_dir/$cluster-ica.key
        # (or keep it in Azure Key Vault: aiogen explain spec.clusters.pki.intermediate.keyVault)
        mode: intermediate
        root: $root
        intermediate:
          secret: {name: $cluster-ica}
      broker:
        listeners:
          # An MQTT listener with TLS on 8883; clients authenticate with Kubernetes service-account
          # tokens. Put the names clients connect to in san.dns (and san.ip).
          - name: mqtts
            serviceType: LoadBalancer
            ports:
              - port: 8883
                authentication: serviceAccountToken
                tls:
                  san: {dns: [mqtt.$cluster.example], inClusterNames: true}
""")

README = Template("""\
# $name: PKI as code for Azure IoT Operations

* `fleet/fleet.yaml`: the topology spec; `fleet/pki/`: the public certificates it names.
* `clusters/`: what `aiogen render fleet/fleet.yaml -o clusters` writes; commit it, never edit it.
* The offline root's private key is NOT here: `$key_path`. Keep it offline.

```bash
aiogen validate fleet/fleet.yaml
aiogen render fleet/fleet.yaml -o clusters && git add -A && git commit -m "render"
```

CI (`.github/workflows/aiogen.yml`) validates the spec, fails when `clusters/` is stale and checks
that every change keeps every client trusting every server (`aiogen rollout check --base`).
""")


# integrations/github-actions/aiogen.yml, kept equal to it by tests/test_cli_init.py
WORKFLOW = r"""# Copy to .github/workflows/aiogen.yml in the GitOps repository (`aiogen init` writes it there).
# It assumes the layout of docs/gitops.md: the topology spec (with its PEMs) in fleet/, the
# rendered tree committed in clusters/ (`aiogen render fleet/fleet.yaml -o clusters`). Adjust the
# env block if yours differs. Under GitHub Actions every problem aiogen finds is also an
# annotation on the pull request's diff (file, line, column).
name: aiogen

on:
  pull_request:
    paths: ["fleet/**", "clusters/**", ".github/workflows/aiogen.yml"]
  push:
    branches: [main]
    paths: ["fleet/**", "clusters/**", ".github/workflows/aiogen.yml"]

permissions:
  contents: read

env:
  AIOGEN_SPEC: fleet/fleet.yaml
  AIOGEN_OUT: clusters
  AIOGEN_VERSION: "0.1.0"  # pin the aiogen you render with; a new version may render differently

jobs:
  aiogen:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0  # rollout check reads the spec as it is on the base revision
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: Install aiogen
        run: python -m pip install "aiogen-pki==${AIOGEN_VERSION}"

      # Every problem in the spec, each located (file:line:col field.path) and annotated. Exit 1 = bad spec.
      - name: Spec is valid
        run: aiogen validate "$AIOGEN_SPEC"

      # The committed tree must be exactly what the spec renders to. Exit 3 = stale, 1 = bad spec.
      - name: Rendered tree is up to date
        run: |
          status=0
          aiogen render "$AIOGEN_SPEC" -o "$AIOGEN_OUT" --check > render.diff || status=$?
          if [ "$status" -eq 3 ]; then
            {
              echo "### \`$AIOGEN_OUT\` is stale"
              echo "Run \`aiogen render $AIOGEN_SPEC -o $AIOGEN_OUT\` and commit the result. What it would change:"
              echo '```diff'
              cat render.diff
              echo '```'
            } >> "$GITHUB_STEP_SUMMARY"
          fi
          exit "$status"

      # The change from the base revision's spec to this one must keep every client trusting
      # every chain a server may present, whatever order the manifests land in (docs/rollover.md).
      # The deployed spec is read at the PR's base commit, the proposed one from the checkout.
      # Exit 3 names each client that would break.
      - name: Rollout is safe
        if: github.event_name == 'pull_request'
        env:
          BASE_SHA: ${{ github.event.pull_request.base.sha }}
        run: aiogen rollout check --base "$BASE_SHA" "$AIOGEN_SPEC"
"""


@dataclass(frozen=True)
class ScaffoldFile:
    path: Path
    data: bytes
    mode: int


@dataclass(frozen=True)
class Scaffold:
    directory: Path
    key_dir: Path
    root: str  # the root CA's name in the spec and its file names
    files: tuple[ScaffoldFile, ...]  # in the repository
    key: ScaffoldFile | None  # the root's private key; None when the root exists already


def _schema_text() -> bytes:
    from importlib import resources

    return resources.files("aiogen").joinpath("schemas/topology.schema.json").read_bytes()


def check_name(name: str, what: str) -> str:
    if not _NAME.fullmatch(name):
        raise AiogenError.single(f"{what} {name!r} is not a DNS label",
                                 hint="use lower-case letters, digits and '-' (at most 42), e.g. contoso")
    return name


def check_key_dir(key_dir: Path, directory: Path) -> None:
    """Refuse a key directory inside the new repository or inside any git work tree."""
    resolved, repo = key_dir.expanduser().resolve(), directory.resolve()
    if resolved == repo or repo in resolved.parents:
        raise AiogenError.single(f"--key-dir {key_dir} is inside {directory}, the repository",
                                 hint="keep the root's private key outside it, e.g. ~/.aiogen/keys/NAME")
    work_tree = git_work_tree(resolved)
    if work_tree is not None:
        raise AiogenError.single(f"--key-dir {key_dir} is inside the git work tree {work_tree}",
                                 hint="keep the root's private key outside any repository, "
                                      "e.g. ~/.aiogen/keys/NAME or removable media")


def git_work_tree(path: Path) -> Path | None:
    """The git work tree ``path`` is in (a folder holding ``.git``), or None: a key there is one
    `git add -A` away from being committed."""
    resolved = path.expanduser().resolve()
    return next((folder for folder in (resolved, *resolved.parents) if (folder / ".git").exists()), None)


def _shown(path: Path) -> str:
    """A path as the committed files show it: under the home directory as ``~/…``, so the spec and
    README name no user's home and the commands in them work for everyone who copies them."""
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except (ValueError, RuntimeError):  # not under home, or no home directory
        return str(path)


def plan(directory: Path, *, name: str, cluster: str, key_dir: Path, now: datetime,
         hooks_repo: str = HOOKS_REPO) -> Scaffold:
    """Every file `init` would write; the root is minted only when its certificate is not there yet."""
    check_key_dir(key_dir, directory)
    root = f"{name}-root-{now.year}"
    existing = sorted((directory / "fleet" / "pki").glob(f"{name}-root-*.pem")) if directory.is_dir() else []
    if existing:
        root = existing[-1].stem
    key_path = key_dir / f"{root}.key"
    values = {"name": name, "root": root, "cluster": cluster, "key_dir": _shown(key_dir),
              "key_path": _shown(key_path), "hooks_repo": hooks_repo, "version": __version__}
    files = [
        ScaffoldFile(directory / "fleet" / "fleet.yaml", SPEC.substitute(values).encode(), _FILE_MODE),
        ScaffoldFile(directory / "fleet" / "topology.schema.json", _schema_text(), _FILE_MODE),
        ScaffoldFile(directory / ".gitignore", GITIGNORE.encode(), _FILE_MODE),
        ScaffoldFile(directory / ".pre-commit-config.yaml", PRE_COMMIT.substitute(values).encode(), _FILE_MODE),
        ScaffoldFile(directory / ".github" / "workflows" / "aiogen.yml", WORKFLOW.encode(), _FILE_MODE),
        ScaffoldFile(directory / "README.md", README.substitute(values).encode(), _FILE_MODE),
    ]
    key: ScaffoldFile | None = None
    if not existing:
        if key_path.exists() or key_path.is_symlink():
            raise AiogenError.single(f"{key_path} exists but {directory / 'fleet' / 'pki' / f'{root}.pem'} "
                                     "does not", hint="copy the root's certificate there, or choose another --key-dir")
        certificate, private_key = _mint_root(name, root, now)
        files.insert(1, ScaffoldFile(directory / "fleet" / "pki" / f"{root}.pem", certificate, _FILE_MODE))
        key = ScaffoldFile(key_path, private_key, _KEY_MODE)
    return Scaffold(directory, key_dir, root, tuple(files), key)


def _mint_root(name: str, root: str, now: datetime) -> tuple[bytes, bytes]:
    from aiogen.pki.authority import CertificateAuthority
    from aiogen.pki.keys import KeySpec

    start = now.astimezone(UTC).replace(microsecond=0)
    authority = CertificateAuthority.root(f"{root}", not_before=start, not_after=start + ROOT_VALIDITY,
                                          key=KeySpec.Ec256, organization=name)
    return authority.cert_pem, authority.private_key_pem()


@dataclass(frozen=True)
class Outcome:
    written: tuple[Path, ...]
    kept: tuple[Path, ...]  # existed already: left exactly as they were


def write(scaffold: Scaffold) -> Outcome:
    """Create every file that does not exist yet (through `aiogen.output.fs`: never through a
    symbolic link, never over an existing name, exact modes); keep the others.

    The key is written first, so a root certificate is never in the repository without its key;
    the directories made for it are 0700.
    """
    written: list[Path] = []
    kept: list[Path] = []
    for item in ((scaffold.key,) if scaffold.key else ()) + scaffold.files:
        if _write_new(item, private=item.mode == _KEY_MODE):
            written.append(item.path)
        else:
            kept.append(item.path)
    return Outcome(tuple(written), tuple(kept))


def _write_new(item: ScaffoldFile, *, private: bool) -> bool:
    """Write ``item`` unless something stands at its path already; True when written."""
    from aiogen.output import fs

    anchor, missing = _existing_ancestor(item.path.parent)
    try:
        root = fs.open_root(anchor)
    except OSError as error:
        raise AiogenError.single(f"cannot open {anchor} ({error.strerror})", hint="choose another DIR") from None
    try:
        created = fs.Created()
        try:
            directory = fs.open_directory(root, missing, create=True, created=created)
        except OSError as error:
            raise AiogenError.single(f"cannot create {item.path.parent} ({error.strerror or error})",
                                     hint="choose another DIR (no symbolic links or files on the way)") from None
        try:
            if private and created.folders:
                os.fchmod(directory, 0o700)
            if fs.lstat_at(directory, item.path.name) is not None:
                return False
            try:
                fs.write_new(directory, item.path.name, item.data, item.mode, sync=True)
            except FileExistsError:
                raise AiogenError.single(f"{item.path} appeared while aiogen init ran", hint="run it again") from None
            except OSError as error:
                raise AiogenError.single(f"cannot write {item.path} ({error.strerror})") from None
            return True
        finally:
            os.close(directory)
    finally:
        os.close(root)


def _existing_ancestor(directory: Path) -> tuple[Path, list[str]]:
    """The nearest directory on the way up that exists, and the parts below it to create."""
    missing: list[str] = []
    folder = directory
    while not os.path.lexists(folder):
        missing.insert(0, folder.name)
        folder = folder.parent
    if folder.is_symlink():
        raise AiogenError.single(f"{folder} is a symbolic link; aiogen init will not write through it",
                                 hint="choose another directory")
    if not folder.is_dir():
        raise AiogenError.single(f"{folder} exists and is not a directory", hint="choose another DIR")
    return folder, missing


def relative(paths: Sequence[Path], base: Path) -> list[str]:
    out = []
    for path in paths:
        try:
            out.append(str(path.relative_to(base)))
        except ValueError:
            out.append(str(path))
    return out
