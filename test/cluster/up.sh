#!/usr/bin/env bash
# Starts Vigil's one-node test cluster on this machine, as root:
#   etcd -> kube-apiserver -> kube-controller-manager, kube-scheduler
#   -> containerd (CRI, CNI)
#   -> kubelet, then waits for the node to be Ready and a busybox pod to run.
# Everything it makes lives under $RUN_DIR (/run/vigil-cluster): certificates,
# tokens, kubeconfigs, data, sockets, and logs/. It writes $RUN_DIR/env, which
# exports the kubeconfig paths. Idempotent: with the cluster already up it
# returns at once; a half-up cluster is torn down (down.sh) and started anew.
# test/cluster/down.sh stops it all.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet)
LOGS="$RUN_DIR/logs"
PKI="$RUN_DIR/pki"
KUBECTL="$K8S_BIN/kubectl"
ADMIN_KUBECONFIG="$RUN_DIR/admin.kubeconfig"
AGENT_KUBECONFIG="$RUN_DIR/agent.kubeconfig"
# The sysctls the kubelet sets on start (it writes them unless told to fail
# instead); down.sh puts back the values saved here. ip_forward is the bridge's.
SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
         kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward)

started_at=$SECONDS
failed_component=

pid_of() { cat "$RUN_DIR/pids/$1.pid" 2>/dev/null || true; }
running() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# On any failure: say what failed, with the tail of each component's log.
report_failure() {
  local rc=$?
  [ "$rc" = 0 ] && return
  echo "cluster: up.sh FAILED (exit $rc) after $((SECONDS - started_at)) s${failed_component:+ at $failed_component}" >&2
  local c
  for c in "${COMPONENTS[@]}"; do
    if [ -f "$LOGS/$c.log" ]; then
      if running "$c"; then echo "  $c: running (pid $(pid_of "$c"))" >&2
      else echo "  $c: NOT running" >&2; fi
      tail_log "$LOGS/$c.log" "$([ "$c" = "$failed_component" ] && echo 40 || echo 8)"
    fi
  done
  echo "cluster: logs are in $LOGS; test/cluster/down.sh cleans up" >&2
}
trap report_failure EXIT

# Runs a component in its own session, detached from this script's stdio (so
# a caller waiting on our output is not held by it), its output in logs/.
start() {
  local name=$1; shift
  log "starting $name"
  setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$RUN_DIR/pids/$name.pid"
}

# wait_for NAME WHAT SECONDS CMD...: polls CMD until it succeeds; fails if
# NAME, the component WHAT waits on, dies or time runs out.
wait_for() {
  local name=$1 what=$2 secs=$3; shift 3
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ! running "$name"; then failed_component=$name; die "$name exited"; fi
    if [ $SECONDS -ge $deadline ]; then failed_component=$name; die "$what: not after ${secs}s ($*)"; fi
    sleep 0.5
  done
  log "$what ($((SECONDS - started_at)) s)"
}

k() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

# Up when every component runs, the env file exists and the node is Ready.
already_up() {
  local c
  [ -f "$RUN_DIR/env" ] || return 1
  for c in "${COMPONENTS[@]}"; do running "$c" || return 1; done
  [ "$(k get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' --request-timeout=5s 2>/dev/null)" = True ]
}

node_ip() {
  local dev
  dev=$(ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
  [ -n "$dev" ] || die "no IPv4 default route: the kubelet needs a non-loopback node IP (set VIGIL_NODE_IP)"
  ip -4 -o addr show dev "$dev" | awk '{split($4, a, "/"); print a[1]; exit}'
}

make_pki() {
  mkdir -p "$PKI"
  local d=$PKI
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=vigil-test-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  # sign NAME SUBJECT [SANS]: a key and a CA-signed certificate.
  sign() {
    local name=$1 subj=$2 sans=${3:-}
    openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$d/$name.key" -out "$d/$name.csr" 2>/dev/null
    {
      echo "basicConstraints=CA:FALSE"
      echo "keyUsage=critical,digitalSignature,keyEncipherment"
      if [ -n "$sans" ]; then echo "extendedKeyUsage=serverAuth"; echo "subjectAltName=$sans"
      else echo "extendedKeyUsage=clientAuth"; fi
    } >"$d/$name.ext"
    openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
      -days 3650 -extfile "$d/$name.ext" -out "$d/$name.crt" 2>/dev/null
    rm -f "$d/$name.csr" "$d/$name.ext"
  }
  sign apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,IP:${SERVICE_CIDR%.0/*}.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  # The API server's client certificate towards the kubelet (exec, logs).
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  # Service account token signing keys.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/sa.key" 2>/dev/null
  openssl pkey -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
  chmod 600 "$d"/*.key
}

# Static bearer tokens: token,user,uid,"groups".
make_tokens() {
  local t
  for t in admin agent kcm scheduler kubelet; do openssl rand -hex 24 >"$PKI/$t.token"; done
  {
    echo "$(cat "$PKI/admin.token"),vigil-admin,vigil-admin,\"system:masters\""
    echo "$(cat "$PKI/agent.token"),vigil-agent,vigil-agent"
    echo "$(cat "$PKI/kcm.token"),system:kube-controller-manager,system:kube-controller-manager"
    echo "$(cat "$PKI/scheduler.token"),system:kube-scheduler,system:kube-scheduler"
    echo "$(cat "$PKI/kubelet.token"),system:node:$NODE_NAME,system:node:$NODE_NAME,\"system:nodes\""
  } >"$PKI/tokens.csv"
  chmod 600 "$PKI"/*.token "$PKI/tokens.csv"
}

# kubeconfig FILE USER TOKEN
kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: vigil
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: vigil
  context: {cluster: vigil, user: $2}
current-context: vigil
EOF
  chmod 600 "$1"
}

start_etcd() {
  start etcd /usr/bin/etcd --name vigil --data-dir "$RUN_DIR/etcd" --logger=zap --log-outputs=stderr \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "vigil=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new
  wait_for etcd "etcd ready" 60 curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health"
}

start_apiserver() {
  start kube-apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP,Hostname \
    --endpoint-reconciler-type=none \
    --profiling=false --v=1
  wait_for kube-apiserver "kube-apiserver ready" 120 k get --raw=/readyz --request-timeout=5s
}

start_controller_manager() {
  kubeconfig "$RUN_DIR/kcm.kubeconfig" system:kube-controller-manager "$(cat "$PKI/kcm.token")"
  start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig="$RUN_DIR/kcm.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
    --controllers='*' --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --leader-elect=false --profiling=false --v=1
  wait_for kube-controller-manager "kube-controller-manager ready" 60 curl -skf "https://127.0.0.1:$KCM_PORT/healthz"
}

start_scheduler() {
  local kc="$RUN_DIR/scheduler.kubeconfig"
  kubeconfig "$kc" system:kube-scheduler "$(cat "$PKI/scheduler.token")"
  start kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig="$kc" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false --profiling=false --v=1
  wait_for kube-scheduler "kube-scheduler ready" 60 curl -skf "https://127.0.0.1:$SCHEDULER_PORT/healthz"
}

# overlayfs needs an upper dir on a file system that supports it; else native.
snapshotter() {
  local t; t=$(mktemp -d "$RUN_DIR/.ovl.XXXXXX")
  mkdir -p "$t"/{l,u,w,m}
  if mount -t overlay overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$t/m" 2>/dev/null; then
    umount "$t/m"; rm -rf "$t"; echo overlayfs
  else
    rm -rf "$t"; echo native
  fi
}

start_containerd() {
  local c="$RUN_DIR/containerd" snap
  snap=$(snapshotter)
  mkdir -p "$c" "$RUN_DIR/cni/net.d"
  cat >"$c/config.toml" <<EOF
# Generated by test/cluster/up.sh: a private containerd for Vigil's test cluster.
version = 2
root = "$c/root"
state = "$c/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[debug]
  address = "$c/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # Root here lacks CAP_SYS_RESOURCE: never ask for a score below containerd's own.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$snap"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$c/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN_DIR/cni/net.d"
    max_conf_num = 1
EOF
  # The pod network: a bridge with host-local addresses; the bridge is the pods' gateway.
  cat >"$RUN_DIR/cni/net.d/10-vigil.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "vigil",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "vigil0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$RUN_DIR/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF
  start containerd /usr/bin/containerd --config "$c/config.toml"
  wait_for containerd "containerd ready" 60 ctr -a "$CONTAINERD_SOCK" version
  log "containerd snapshotter: $snap"
  local img
  for img in pause busybox; do
    ctr -a "$CONTAINERD_SOCK" -n k8s.io images import --snapshotter "$snap" "$IMAGES_DIR/$img.tar" >/dev/null \
      || { failed_component=containerd; die "ctr images import $IMAGES_DIR/$img.tar failed"; }
  done
}

start_kubelet() {
  local d="$RUN_DIR/kubelet"
  mkdir -p "$d" "$RUN_DIR/pod-logs"
  kubeconfig "$RUN_DIR/kubelet.kubeconfig" "system:node:$NODE_NAME" "$(cat "$PKI/kubelet.token")"
  cat >"$RUN_DIR/kubelet-config.yaml" <<EOF
# Generated by test/cluster/up.sh.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
imageServiceEndpoint: unix://$CONTAINERD_SOCK
# No systemd as PID 1: cgroupfs. This host mounts cgroup v1 controllers with
# cgroup2 beside them; from 1.35 on the kubelet refuses v1 unless told not to.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
# Root here lacks CAP_SYS_RESOURCE: a negative oom_score_adj cannot be written.
oomScoreAdj: 0
podLogsDir: $RUN_DIR/pod-logs
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
# A test node never evicts for disk or memory, nor drops the local images.
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
registerNode: true
EOF
  start kubelet "$K8S_BIN/kubelet" --config="$RUN_DIR/kubelet-config.yaml" \
    --kubeconfig="$RUN_DIR/kubelet.kubeconfig" --root-dir="$d" --cert-dir="$d/pki" \
    --hostname-override="$NODE_NAME" --node-ip="${VIGIL_NODE_IP:-$(node_ip)}" --v=1
  wait_for kubelet "kubelet ready" 120 curl -sf "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz"
}

node_ready() {
  [ "$(k get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' --request-timeout=5s)" = True ]
}

write_env() {
  cat >"$RUN_DIR/env.tmp" <<EOF
# Written by test/cluster/up.sh; source it to use the test cluster.
export VIGIL_CLUSTER_RUN=$RUN_DIR
export KUBECONFIG=$ADMIN_KUBECONFIG
export VIGIL_ADMIN_KUBECONFIG=$ADMIN_KUBECONFIG
export VIGIL_AGENT_KUBECONFIG=$AGENT_KUBECONFIG
export VIGIL_KUBECTL=$KUBECTL
export VIGIL_CONTAINERD_SOCK=$CONTAINERD_SOCK
export VIGIL_NODE_NAME=$NODE_NAME
export VIGIL_BUSYBOX_IMAGE=$BUSYBOX_IMAGE
export VIGIL_PAUSE_IMAGE=$PAUSE_IMAGE
export VIGIL_KUBERNETES_VERSION=$KUBERNETES_VERSION
export PATH=$K8S_BIN:\$PATH
EOF
  mv "$RUN_DIR/env.tmp" "$RUN_DIR/env"
}

# A busybox pod in its own namespace must run before the cluster counts as up.
smoke_test() {
  k create namespace vigil-smoke --dry-run=client -o yaml | k apply -f - >/dev/null
  wait_for kube-controller-manager "service account vigil-smoke/default made" 60 k -n vigil-smoke get serviceaccount default
  k -n vigil-smoke apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: smoke}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sh
    image: $BUSYBOX_IMAGE
    imagePullPolicy: Never
    command: [sleep, "3600"]
EOF
  if ! k -n vigil-smoke wait pod/smoke --for=condition=Ready --timeout=120s >/dev/null; then
    failed_component=kubelet
    k -n vigil-smoke describe pod smoke | tail -n 20 >&2 || true
    die "the smoke pod did not become Ready"
  fi
  log "smoke pod running ($((SECONDS - started_at)) s)"
  k delete namespace vigil-smoke --wait=false >/dev/null
}

main() {
  [ "$(id -u)" = 0 ] || die "run as root"
  if already_up; then
    log "already up (source $RUN_DIR/env)"
    return 0
  fi
  if [ -d "$RUN_DIR/pids" ]; then
    log "a previous cluster is partly up: tearing it down first"
    bash "$CLUSTER_DIR/down.sh"
  fi
  bash "$CLUSTER_DIR/build.sh"
  rm -rf "$LOGS"
  mkdir -p "$RUN_DIR/pids" "$LOGS"
  local s
  for s in "${SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")"; done >"$RUN_DIR/sysctl.saved"
  # Fixed paths outside $RUN_DIR the programs write to whatever they are told:
  # containerd 1.6 its shims' sockets (/run/containerd/s), CNI its result cache,
  # the kubelet its device plugin socket folder and log links. down.sh
  # removes those this cluster made, once empty.
  for s in /run/containerd /var/lib/cni /var/lib/kubelet /var/log/containers; do
    [ -e "$s" ] || echo "$s"
  done >"$RUN_DIR/made-dirs"
  make_pki
  make_tokens
  kubeconfig "$ADMIN_KUBECONFIG" vigil-admin "$(cat "$PKI/admin.token")"
  kubeconfig "$AGENT_KUBECONFIG" vigil-agent "$(cat "$PKI/agent.token")"
  start_etcd
  start_apiserver
  k apply -f "$CLUSTER_DIR/manifests/agent-rbac.yaml" >/dev/null
  start_controller_manager
  start_scheduler
  start_containerd
  start_kubelet
  wait_for kubelet "node $NODE_NAME Ready" 120 node_ready
  smoke_test
  write_env
  log "up in $((SECONDS - started_at)) s: source $RUN_DIR/env"
}

main "$@"
