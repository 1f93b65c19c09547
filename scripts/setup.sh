#!/usr/bin/env bash
# Installs what Vigil needs on a fresh Debian machine, then builds it.
# Idempotent: each step runs only when its result is missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_pkgs=(clang llvm libbpf-dev libbpf1 bpftool libelf-dev linux-libc-dev)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then echo "setup: apt packages missing and not root: run as root" >&2; exit 1; fi
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages" >&2
  npm ci --no-audit --no-fund >&2
fi

bash scripts/build.sh
