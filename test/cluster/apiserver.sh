#!/usr/bin/env bash
# Stops and starts the test cluster's kube-apiserver alone, for tests of
# clients that must outlive it:
#   apiserver.sh stop      SIGTERM (SIGKILL after 15 s); its command line is kept
#   apiserver.sh start     runs the kept command line again, as up.sh ran it, and waits for /readyz
#   apiserver.sh restart   both
# etcd keeps the cluster's state; the certificates and tokens stay the same.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PID_FILE="$RUN_DIR/pids/kube-apiserver.pid"
CMDLINE="$RUN_DIR/kube-apiserver.cmdline"
LOG="$RUN_DIR/logs/kube-apiserver.log"

alive() { local p; p=$(cat "$PID_FILE" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

stop() {
  alive || die "kube-apiserver is not running (no live pid in $PID_FILE)"
  local pid; pid=$(cat "$PID_FILE")
  # Its own arguments, NUL-separated, as up.sh gave them.
  cp "/proc/$pid/cmdline" "$CMDLINE"
  log "stopping kube-apiserver (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  for _ in $(seq 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && die "kube-apiserver (pid $pid) survived SIGKILL"
  log "kube-apiserver stopped"
}

start() {
  alive && die "kube-apiserver is already running (pid $(cat "$PID_FILE"))"
  [ -s "$CMDLINE" ] || die "no kept command line ($CMDLINE): stop it with this script first"
  local args=()
  mapfile -d '' -t args <"$CMDLINE"
  log "starting kube-apiserver"
  setsid "${args[@]}" </dev/null >>"$LOG" 2>&1 &
  echo $! >"$PID_FILE"
  local deadline=$((SECONDS + 120))
  until "$K8S_BIN/kubectl" --kubeconfig "$RUN_DIR/admin.kubeconfig" get --raw=/readyz --request-timeout=5s >/dev/null 2>&1; do
    alive || { tail_log "$LOG" 30; die "kube-apiserver exited"; }
    [ $SECONDS -lt $deadline ] || { tail_log "$LOG" 30; die "kube-apiserver not ready after 120 s"; }
    sleep 0.5
  done
  log "kube-apiserver ready"
}

[ "$(id -u)" = 0 ] || die "run as root"
case "${1:-}" in
  stop) stop ;;
  start) start ;;
  restart) stop; start ;;
  *) die "usage: apiserver.sh stop|start|restart" ;;
esac
