# Shared by build.sh, up.sh and down.sh: paths, pins and helpers. Sourced, not run.
# shellcheck disable=SC2034  # the variables are used by the scripts that source this
CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$CLUSTER_DIR/versions.env"

# Per-machine cache, outside the checkout so a fresh clone reuses it.
VIGIL_CACHE=${VIGIL_CACHE:-$HOME/.cache/vigil}
K8S_HOME="$VIGIL_CACHE/kubernetes-$KUBERNETES_VERSION"
K8S_BIN="$K8S_HOME/bin"
IMAGES_DIR="$K8S_HOME/images"
# The running cluster's state: certificates, data, sockets, logs.
RUN_DIR=${VIGIL_CLUSTER_RUN:-/run/vigil-cluster}

# Ports on 127.0.0.1 (off the defaults, so a system etcd or apiserver can run beside).
ETCD_CLIENT_PORT=${VIGIL_ETCD_PORT:-23790}
ETCD_PEER_PORT=${VIGIL_ETCD_PEER_PORT:-23800}
APISERVER_PORT=${VIGIL_APISERVER_PORT:-6443}
KCM_PORT=${VIGIL_KCM_PORT:-10257}
SCHEDULER_PORT=${VIGIL_SCHEDULER_PORT:-10259}
KUBELET_PORT=${VIGIL_KUBELET_PORT:-10250}
KUBELET_HEALTHZ_PORT=${VIGIL_KUBELET_HEALTHZ_PORT:-10248}
# The node's name in the API, fixed so tests can name it.
NODE_NAME=${VIGIL_NODE_NAME:-vigil-node}
POD_CIDR=10.88.0.0/16
SERVICE_CIDR=10.96.0.0/16
CONTAINERD_SOCK="$RUN_DIR/containerd/containerd.sock"

log() { echo "cluster: $*" >&2; }
die() { echo "cluster: error: $*" >&2; exit 1; }

# Installs the Debian packages that are missing (apt-get update only when needed).
apt_ensure() {
  local missing=() p
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "Debian packages missing (${missing[*]}) and not root"
  log "installing ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
    log "apt-get update"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}

# Prints the last lines of a log file, indented, for an error report.
tail_log() {
  local f=$1 n=${2:-30}
  [ -f "$f" ] || { echo "    ($f: no log)" >&2; return 0; }
  echo "    --- last $n lines of $f" >&2
  tail -n "$n" "$f" | sed 's/^/    | /' >&2
}
