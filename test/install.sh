#!/usr/bin/env bash
# Installs what the host tests need beside the build's packages, only when
# missing: rsyslog and its TLS driver (test/host-syslog-export.test.ts runs
# a private rsyslogd), promtool from Debian's prometheus package
# (test/host-metrics.test.ts checks /metrics with it), openssl for the test
# certificates. Idempotent: a no-op when everything is in place. The
# packages' own services are not started (the tests start rsyslogd
# themselves, on a private port with a private config).
set -euo pipefail

PKGS=(rsyslog rsyslog-gnutls prometheus openssl)
log() { echo "test-install: $*" >&2; }
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo

missing=()
for p in "${PKGS[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
  log "apt-get update"
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
