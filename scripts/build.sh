#!/usr/bin/env bash
# Builds the BPF objects (CO-RE, BTF) and the TypeScript, skipping what is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

out=dist/bpf
mkdir -p "$out" build
vmlinux=build/vmlinux.h
# vmlinux.h comes from the running kernel's BTF; CO-RE relocates the objects on other kernels.
if [ ! -s "$vmlinux" ]; then
  echo "build: generating $vmlinux from /sys/kernel/btf/vmlinux" >&2
  bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$vmlinux.tmp"
  mv "$vmlinux.tmp" "$vmlinux"
fi

headers=$(find kprobes/include -name '*.h')
for src in kprobes/*.bpf.c kprobes/probes/*.bpf.c kprobes/test/*.bpf.c; do
  # Test programs go to dist/bpf/test/.
  case $src in kprobes/test/*) dir=$out/test ;; *) dir=$out ;; esac
  mkdir -p "$dir"
  obj="$dir/$(basename "${src%.c}").o"
  stale=0
  [ "$obj" -nt "$src" ] || stale=1
  for h in $headers; do [ "$obj" -nt "$h" ] || stale=1; done
  ((stale)) || continue
  echo "build: clang $src" >&2
  clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
    -I build -I kprobes/include -c "$src" -o "$obj.tmp"
  mv "$obj.tmp" "$obj"
done

echo "build: tsc" >&2
# Output of moved or deleted sources must not linger (the runner runs every dist/test/**/*.test.js).
rm -rf dist/kernel dist/agent dist/exporters dist/policies dist/test dist/benchmarks dist/scripts
npx tsc -p tsconfig.json
