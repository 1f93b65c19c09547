#!/usr/bin/env bash
# Stops Vigil's test cluster (test/cluster/up.sh) and leaves the machine clean:
# the pods' containers, network namespaces and cgroups go, then every process
# up.sh started, its mounts, the pod bridge, the kubelet's iptables chains, and
# the sysctls the kubelet changed are put back. Data under $RUN_DIR goes too;
# $RUN_DIR/logs/ stays for a post-mortem. Safe to run when nothing is up.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KUBECTL="$K8S_BIN/kubectl"
problems=0
problem() { echo "cluster: down: $*" >&2; problems=$((problems + 1)); }

pid_of() { cat "$RUN_DIR/pids/$1.pid" 2>/dev/null || true; }

# stop NAME...: SIGTERM to each, up to 15 s for all to exit, then SIGKILL.
# A pid file goes once its process has.
stop() {
  local name pid alive=()
  for name in "$@"; do
    pid=$(pid_of "$name")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null
      alive+=("$name")
    else
      rm -f "$RUN_DIR/pids/$name.pid"
    fi
  done
  local any
  for _ in $(seq 75); do
    any=0
    for name in "${alive[@]}"; do kill -0 "$(pid_of "$name")" 2>/dev/null && any=1; done
    [ "$any" = 0 ] && break
    sleep 0.2
  done
  for name in "${alive[@]}"; do
    pid=$(pid_of "$name")
    if kill -0 "$pid" 2>/dev/null; then
      log "$name ignored SIGTERM for 15 s: SIGKILL"
      [ -f "$RUN_DIR/logs/$name.log" ] && tail_log "$RUN_DIR/logs/$name.log" 10
      kill -KILL "$pid" 2>/dev/null
      for _ in $(seq 10); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$pid" 2>/dev/null && { problem "$name (pid $pid) survived SIGKILL"; continue; }
    fi
    rm -f "$RUN_DIR/pids/$name.pid"
  done
}

# Processes of ours whose pid file was lost (say, a down.sh cut short): every
# command up.sh starts names a path under $RUN_DIR on its command line.
sweep() {
  local f p cmd
  for f in /proc/[0-9]*/cmdline; do
    p=${f#/proc/}; p=${p%/cmdline}
    [ "$p" = $$ ] && continue
    cmd=$(tr '\0' ' ' <"$f" 2>/dev/null) || continue
    case $cmd in
      *"$RUN_DIR/"*) log "killing leftover ${cmd:0:100} (pid $p)"; kill -KILL "$p" 2>/dev/null ;;
    esac
  done
}

ctr_() { ctr -a "$CONTAINERD_SOCK" -n k8s.io "$@"; }

# Asks the kubelet to stop every pod, so it tears their sandboxes and networks down.
delete_pods() {
  local kc="$RUN_DIR/admin.kubeconfig"
  [ -x "$KUBECTL" ] && [ -f "$kc" ] || return 0
  kill -0 "$(pid_of kubelet)" 2>/dev/null && kill -0 "$(pid_of kube-apiserver)" 2>/dev/null || return 0
  log "deleting all pods"
  "$KUBECTL" --kubeconfig "$kc" delete pods --all -A --grace-period=1 --wait=false --request-timeout=10s >/dev/null 2>&1
  for _ in $(seq 40); do
    [ -z "$(ctr_ tasks ls -q 2>/dev/null)" ] && break
    sleep 0.5
  done
}

# Whatever containers remain: kill their tasks, remove them, and drop their
# network namespaces (named in the sandboxes' specs).
remove_containers() {
  [ -S "$CONTAINERD_SOCK" ] && kill -0 "$(pid_of containerd)" 2>/dev/null || return 0
  local id netns=()
  for id in $(ctr_ containers ls -q 2>/dev/null); do
    mapfile -t -O "${#netns[@]}" netns < <(ctr_ containers info "$id" 2>/dev/null \
      | grep -o '"path": *"[^"]*netns[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
    ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1
  done
  sleep 1
  for id in $(ctr_ containers ls -q 2>/dev/null); do
    ctr_ tasks rm -f "$id" >/dev/null 2>&1
    ctr_ containers rm "$id" >/dev/null 2>&1 || problem "could not remove container $id"
    # CNI's cached results for a sandbox torn down without CNI DEL.
    rm -f /var/lib/cni/results/*-"$id"-*
  done
  local ns
  for ns in $(printf '%s\n' "${netns[@]}" | sort -u); do
    [ -e "$ns" ] || continue
    umount "$ns" 2>/dev/null; rm -f "$ns" 2>/dev/null
  done
}

# Shims outlive containerd by design; ours name our socket on their command line.
kill_shims() {
  local p
  for p in $(pgrep -f -- "-address $CONTAINERD_SOCK" 2>/dev/null); do
    log "killing leftover shim $p"
    kill -KILL "$p" 2>/dev/null
  done
}

unmount_run_dir() {
  local m
  # Deepest first: sorted by length, longest first.
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || problem "could not unmount $m"
  done < <(awk -v d="$RUN_DIR/" 'index($5, d) == 1 {print length($5), $5}' /proc/self/mountinfo | sort -rn | cut -d' ' -f2-)
}

# The pods' cgroups, under every hierarchy: kill what is left in them, then rmdir deepest first.
remove_cgroups() {
  local root p
  for root in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$root" ] || continue
    for p in $(find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u); do kill -KILL "$p" 2>/dev/null; done
  done
  sleep 0.2
  for root in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$root" ] || continue
    find "$root" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -d "$root" ] && problem "cgroup $root remains: $(find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null | wc -l) processes in it"
  done
}

# The kubelet's chains: KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY, and KUBE-FIREWALL
# (with a jump from INPUT and OUTPUT) that drops martian packets to 127/8.
remove_iptables_chains() {
  local ipt table chain
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for chain in INPUT OUTPUT; do
      while "$ipt" -w -t filter -D "$chain" -j KUBE-FIREWALL 2>/dev/null; do :; done
    done
    for table in mangle nat filter; do
      for chain in KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT KUBE-FIREWALL; do
        "$ipt" -w -t "$table" -L "$chain" -n >/dev/null 2>&1 || continue
        "$ipt" -w -t "$table" -F "$chain" 2>/dev/null
        "$ipt" -w -t "$table" -X "$chain" 2>/dev/null || problem "$ipt -t $table: could not remove chain $chain"
      done
    done
  done
}

restore_sysctls() {
  local f="$RUN_DIR/sysctl.saved" kv
  [ -f "$f" ] || return 0
  while read -r kv; do sysctl -qw "$kv" || problem "could not restore $kv"; done <"$f"
  rm -f "$f"
}

main() {
  [ "$(id -u)" = 0 ] || die "run as root"
  [ -d "$RUN_DIR" ] || { log "nothing to stop"; return 0; }
  delete_pods
  stop kubelet
  remove_containers
  stop containerd
  kill_shims
  stop kube-scheduler kube-controller-manager
  stop kube-apiserver
  stop etcd
  sweep
  unmount_run_dir
  remove_cgroups
  ip link show vigil0 >/dev/null 2>&1 && { ip link delete vigil0 || problem "could not delete the bridge vigil0"; }
  remove_iptables_chains
  restore_sysctls
  # The kubelet's links to pod logs, when a pod went without it.
  [ -d /var/log/containers ] && find /var/log/containers -maxdepth 1 -type l -lname "$RUN_DIR/*" -delete
  # Folders outside $RUN_DIR that the cluster's programs made, when empty.
  local d
  while read -r d; do
    # Sockets whose server is gone (the kubelet's device plugin socket), then empty folders.
    [ -d "$d" ] && find "$d" -type s -delete && find "$d" -depth -type d -empty -delete
    [ -e "$d" ] && problem "$d is not empty: $(find "$d" -mindepth 1 | head -5 | tr '\n' ' ')"
  done < <(cat "$RUN_DIR/made-dirs" 2>/dev/null)
  # Everything but the logs.
  find "$RUN_DIR" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} + 2>/dev/null \
    || problem "could not remove all of $RUN_DIR"
  if [ "$problems" -gt 0 ]; then
    echo "cluster: down.sh finished with $problems problem(s); logs in $RUN_DIR/logs" >&2
    return 1
  fi
  log "down; logs kept in $RUN_DIR/logs"
}

main "$@"
