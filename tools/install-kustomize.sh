#!/usr/bin/env bash
# Installs a standalone `kustomize` (v5.6, from Debian trixie's package archive) into a prefix,
# without touching the system's apt state: apt-get runs with a private sources list, state and
# cache in a temporary directory, downloads the .deb only, and the binary is unpacked with
# dpkg-deb. Nothing is installed system-wide. kubectl's embedded kustomize cannot run exec KRM
# functions (no --enable-exec flag), so the plugin tests (tests/test_kustomize.py) need this binary.
# Needs: a Debian-based machine (apt-get, dpkg-deb) whose apt sources name a Debian mirror.
#
# Usage: bash tools/install-kustomize.sh [PREFIX]   (default PREFIX: $HOME/.local)
#        -> prints PREFIX/bin/kustomize; .ci/run uses PREFIX=<repo>/.tools
set -euo pipefail
prefix=${1:-$HOME/.local}
if [ -x "$prefix/bin/kustomize" ]; then echo "$prefix/bin/kustomize"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the Debian archive this machine already uses (deb822 'URIs:' or one-line 'deb' entries)
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
  | sed -nE 's#^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)(https?://[^[:space:]]+/debian)/?([[:space:]].*)?$#\3#p' \
  | grep -v -- '-security' | head -n1 || true)
[ -n "$mirror" ] || { echo "install-kustomize: no Debian archive found in /etc/apt sources" >&2; exit 1; }
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/etc/preferences.d" "$work/etc/sources.list.d"
echo "deb ${mirror%/} trixie main" > "$work/etc/sources.list"
: > "$work/status"
opts=(-o "Dir::Etc::SourceList=$work/etc/sources.list" -o "Dir::Etc::SourceParts=$work/etc/sources.list.d"
      -o "Dir::Etc::Preferences=$work/etc/preferences" -o "Dir::Etc::PreferencesParts=$work/etc/preferences.d"
      -o "Dir::State::Lists=$work/lists" -o "Dir::State::Status=$work/status" -o "Dir::Cache=$work/cache"
      -o "APT::Architecture=$(dpkg --print-architecture)" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
apt-get "${opts[@]}" -qq update >/dev/null
(cd "$work" && apt-get "${opts[@]}" -qq download kustomize >/dev/null)
dpkg-deb -x "$work"/kustomize_*.deb "$work/root"
mkdir -p "$prefix/bin"
install -m 0755 "$work/root/usr/bin/kustomize" "$prefix/bin/kustomize"
echo "$prefix/bin/kustomize"
