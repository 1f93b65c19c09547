#!/usr/bin/env bash
# Builds the agent's container image on this machine, with no registry and
# no base image: an OCI image tarball made by hand (one layer, a config, a
# manifest, an index, digested with sha256sum), from
#   - this machine's node binary (Debian's nodejs package) and libbpf.so.1,
#     with every shared library they load (ldd);
#   - the built agent (dist/, bin/, the BPF objects) and its production npm
#     packages (npm ci --omit=dev, from the npm registry or npm's cache).
# Nothing else is downloaded. Run scripts/build.sh first.
#
#   bash scripts/build-image.sh [--import CONTAINERD_SOCKET]
#
# Writes dist/image/vigil-image.tar, named vigil.local/vigil:<version>
# (deploy/daemonset.yaml names it, imagePullPolicy: Never). --import loads
# it into that containerd's k8s.io namespace (ctr images import), where the
# kubelet finds it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sock=
while [ $# -gt 0 ]; do
  case $1 in
    --import) sock=${2:?--import needs the containerd socket}; shift 2 ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done

version=$(node -p 'require("./package.json").version')
image="vigil.local/vigil:$version"
out=dist/image
[ -f dist/agent/cli/main.js ] && [ -d dist/bpf ] || { echo "build-image: run scripts/build.sh first" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{opt/vigil,usr/local/bin,tmp,run,etc,sys,proc,var/log/vigil}
chmod 1777 "$root/tmp"

# The runtime: node and libbpf, with the shared libraries they load, at the same paths.
node_bin=$(readlink -f "$(command -v node)")
libbpf=$(ldconfig -p | awk '/libbpf\.so\.1 .*x86-64/ && !found {print $NF; found = 1}')
[ -n "$libbpf" ] || { echo "build-image: libbpf.so.1 not found (apt-get install libbpf1)" >&2; exit 1; }
install -m 0755 "$node_bin" "$root/usr/local/bin/node"
copy_lib() {
  local f=$1 real
  real=$(readlink -f "$f")
  mkdir -p "$root$(dirname "$f")" "$root$(dirname "$real")"
  [ -e "$root$real" ] || cp "$real" "$root$real"
  [ "$f" = "$real" ] || ln -sf "$real" "$root$f"
}
for f in "$node_bin" "$libbpf"; do
  copy_lib "$f"
  ldd "$f" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do copy_lib "$lib"; done
done
# koffi finds libbpf.so.1 through the loader's default paths.
printf '%s\n' /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu >"$root/etc/ld.so.conf"
echo 'root:x:0:0:root:/root:/usr/sbin/nologin' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"

# The agent.
app=$root/opt/vigil
cp package.json package-lock.json "$app/"
cp -r bin "$app/bin"
mkdir -p "$app/dist"
for d in agent kernel exporters policies bpf; do cp -r "dist/$d" "$app/dist/$d"; done
rm -rf "$app/dist/bpf/test"
# The policy linter reads its JSON Schema beside the compiled code.
mkdir -p "$app/policies" && cp -r policies/schema "$app/policies/schema"
( cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline >/dev/null )

# One layer, reproducible: sorted names, root-owned, mtime 0.
d=$work/oci
mkdir -p "$d/blobs/sha256"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$root" -cf "$d/layer.tar" .
diff_id=$(sha256sum <"$d/layer.tar" | cut -d' ' -f1)
gzip -n -6 "$d/layer.tar"
layer=$(sha256sum <"$d/layer.tar.gz" | cut -d' ' -f1)
layer_size=$(stat -c %s "$d/layer.tar.gz")
mv "$d/layer.tar.gz" "$d/blobs/sha256/$layer"
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin","NODE_ENV=production"],"Entrypoint":["/usr/local/bin/node","/opt/vigil/bin/vigil.js"],"Cmd":["run"],"WorkingDir":"/opt/vigil"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"scripts/build-image.sh"}]}' \
  "$diff_id" >"$d/config.json"
config=$(sha256sum <"$d/config.json" | cut -d' ' -f1)
config_size=$(stat -c %s "$d/config.json")
mv "$d/config.json" "$d/blobs/sha256/$config"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
  "$config" "$config_size" "$layer" "$layer_size" >"$d/manifest.json"
manifest=$(sha256sum <"$d/manifest.json" | cut -d' ' -f1)
manifest_size=$(stat -c %s "$d/manifest.json")
mv "$d/manifest.json" "$d/blobs/sha256/$manifest"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest" "$manifest_size" "$image" "$version" >"$d/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$d" -cf "$out/vigil-image.tar.tmp" oci-layout index.json blobs
mv "$out/vigil-image.tar.tmp" "$out/vigil-image.tar"
echo "build-image: $image -> $out/vigil-image.tar ($(du -h "$out/vigil-image.tar" | cut -f1), layer sha256:${layer:0:12})" >&2

if [ -n "$sock" ]; then
  ctr -a "$sock" -n k8s.io images import --no-unpack=false "$out/vigil-image.tar" >&2
  echo "build-image: imported $image into $sock (k8s.io)" >&2
fi
