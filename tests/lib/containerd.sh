# Shared shell for the tests that run a real containerd with its CRI plugin (sourced, not run):
# tests/e2e/cri. Like dockerd.sh: the containerd is the test's own, in its own network namespace
# (its CNI bridge, veths and nftables never touch the machine's), with its own root, state and
# gRPC socket under a temp dir. Pods get their addresses from a CNI `bridge` + `host-local`
# dual-stack conflist of the test's own (IPAM data under the temp dir too). No registry is
# reachable: the sandbox (pause) image and the pods' image are one OCI image built here from
# busybox-static, imported with `ctr -n k8s.io images import`. This machine's root has no
# CAP_SYS_RESOURCE, hence `restrict_oom_score_adj = true` (else every RunPodSandbox fails with
# "can't get final child's PID from pipe").
#
#   source tests/lib/dockerd.sh       # fail/pass/die, inns, inns_bg, PIDS, FAILS
#   source tests/lib/containerd.sh
#   containerd_init PREFIX DEADLINE BRIDGE V4_SUBNET V6_SUBNET   (one node)
#       # sets NS, WORK, SOCK, CRI_IMAGE; traps; watchdog; writes the config and the conflist
#   containerd_requirements; containerd_configure NS DIR BRIDGE V4_SUBNET V6_SUBNET
#                                   # one node of several (tests/e2e/cluster): sets SOCK; the
#                                   # functions below act on the current NS, WORK and SOCK
#   containerd_node_cleanup         # the current node's part of the cleanup
#   containerd_start                # containerd up in $NS, answering on $SOCK
#   containerd_stop                 # TERM (the pods keep running: their shims stay)
#   containerd_image                # builds and imports $CRI_IMAGE
#   cri CMD...                      # the test's CRI client (CRI_POD, tests/e2e/cri/cri_pod.cc)
#
# Cleanup (EXIT): the caller's cleanup_hook, background jobs (PIDS), every sandbox (stopped and
# removed through the CRI, which deletes its cni-* network namespace), containerd, its shims (by
# their command line naming our state dir), mounts under the work dir, then the namespace.

containerd_init() {  # prefix deadline bridge v4-subnet v6-subnet
  NS="$1$$"
  WORK=$(mktemp -d "/tmp/$NS.XXXXXX")
  CRI_IMAGE="bulkhead.test/box:1"
  PIDS=()
  FAILS=0
  trap containerd_cleanup EXIT
  trap 'echo "FAIL: interrupted"; FAILS=$((FAILS + 1)); exit 1' INT TERM
  ( sleep "$2"; echo "deadline of $2 s reached" >&2; kill -TERM $$ ) & PIDS+=($!)
  containerd_requirements
  containerd_configure "$NS" "$WORK" "$3" "$4" "$5"
}

containerd_requirements() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, containerd)"
  local cmd
  for cmd in containerd containerd-shim-runc-v2 runc ctr nsenter python3 ip; do
    command -v "$cmd" >/dev/null || die "$cmd not installed (apt-get install containerd)"
  done
  [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] ||
    die "CNI plugins not installed (apt-get install containernetworking-plugins)"
}

# containerd_configure NS DIR BRIDGE V4_SUBNET V6_SUBNET: one node: the network namespace, and
# under DIR the containerd config and the CNI conflist (pods' default routes via the bridge, so
# that other nodes' pod ranges are reached through the node); sets SOCK (DIR/containerd.sock). A test
# of several nodes calls it once per node (each with its own NS, WORK and SOCK: the functions
# below act on the current three).
containerd_configure() {
  local ns=$1 dir=$2
  SOCK="$dir/containerd.sock"
  ip netns add "$ns" || die "ip netns add $ns"
  ip -n "$ns" link set lo up
  mkdir -p "$dir/cni" "$dir/ipam"
  cat >"$dir/cni/10-bulkhead.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "$3",
 "plugins": [{"type": "bridge", "bridge": "$3", "isGateway": true, "ipMasq": false,
              "ipam": {"type": "host-local", "dataDir": "$dir/ipam",
                       "ranges": [[{"subnet": "$4"}], [{"subnet": "$5"}]],
                       "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}}]}
JSON
  cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CRI_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
TOML
}

containerd_pid() { cat "$WORK/containerd.pid" 2>/dev/null; }

containerd_start() {
  # nsenter execs containerd: $! is containerd's pid (a function run with & would be a subshell's,
  # and TERM to it would leave containerd running).
  nsenter --net="/var/run/netns/$NS" containerd --config "$WORK/config.toml" \
    </dev/null >>"$WORK/containerd.log" 2>&1 &
  echo $! >"$WORK/containerd.pid"
  local _
  for _ in $(seq 300); do
    [ -S "$SOCK" ] && timeout 5 "$CRI_POD" "$SOCK" ls >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  tail -20 "$WORK/containerd.log"
  die "containerd did not answer on $SOCK"
}

containerd_stop() {  # TERM, then KILL after 10 s; pods stay up (their shims are apart)
  local d _
  d=$(containerd_pid)
  [ -n "$d" ] && kill "$d" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$d" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$d" 2>/dev/null
}

cri() { "$CRI_POD" "$SOCK" "$@"; }

# An OCI image layout (one layer: busybox-static with every applet linked; entrypoint sleep),
# as a tarball, imported into containerd's k8s.io namespace under $CRI_IMAGE.
containerd_image() {
  local busybox a dir=$WORK/image
  busybox=$(command -v busybox) || die "busybox not installed (apt-get install busybox-static)"
  mkdir -p "$WORK/rootfs/bin" "$dir/blobs/sha256"
  cp "$busybox" "$WORK/rootfs/bin/busybox"
  for a in $("$busybox" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$WORK/rootfs/bin/$a"
  done
  tar -C "$WORK/rootfs" -cf "$WORK/layer.tar" . || die "layer tar"
  python3 - "$WORK/layer.tar" "$dir" "$CRI_IMAGE" <<'PY' || die "OCI layout"
import hashlib, json, os, shutil, sys
layer, out, name = sys.argv[1:4]
def blob(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(out, "blobs/sha256", digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}
layer_bytes = open(layer, "rb").read()
layer_desc = dict(blob(layer_bytes), mediaType="application/vnd.oci.image.layer.v1.tar")
config = {"architecture": "amd64", "os": "linux",
          "config": {"Entrypoint": ["/bin/sleep", "1000000"], "Env": ["PATH=/bin"]},
          "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]}}
config_desc = dict(blob(json.dumps(config).encode()),
                   mediaType="application/vnd.oci.image.config.v1+json")
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc, "layers": [layer_desc]}
manifest_desc = dict(blob(json.dumps(manifest).encode()),
                     mediaType="application/vnd.oci.image.manifest.v1+json",
                     platform={"architecture": "amd64", "os": "linux"},
                     annotations={"io.containerd.image.name": name,
                                  "org.opencontainers.image.ref.name": name})
json.dump({"schemaVersion": 2, "manifests": [manifest_desc]},
          open(os.path.join(out, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))
PY
  tar -C "$dir" -cf "$WORK/image.tar" . || die "image tar"
  ctr --address "$SOCK" -n k8s.io images import "$WORK/image.tar" >"$WORK/import.log" 2>&1 ||
    die "ctr images import: $(tail -1 "$WORK/import.log")"
}

containerd_cleanup() {
  set +e
  declare -F cleanup_hook >/dev/null && cleanup_hook
  local p c
  for p in "${PIDS[@]}"; do
    for c in $(pgrep -P "$p"); do kill "$c" 2>/dev/null; done
    kill "$p" 2>/dev/null
  done
  containerd_node_cleanup
  if [ "$FAILS" -eq 0 ] && [ "${BHK_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK"
  else
    echo "work directory kept: $WORK"
  fi
}

# The current node (NS, WORK, SOCK): its sandboxes, containerd, shims, mounts and namespace.
containerd_node_cleanup() {
  local p m ids
  if [ -S "$SOCK" ] && [ -n "$(containerd_pid)" ] && kill -0 "$(containerd_pid)" 2>/dev/null; then
    ids=$(timeout 10 "$CRI_POD" "$SOCK" ls 2>/dev/null)
    # shellcheck disable=SC2086
    [ -n "$ids" ] && timeout 60 "$CRI_POD" "$SOCK" rm $ids >/dev/null 2>&1
  fi
  containerd_stop
  # The shims and the pods' processes name our state dir (the shims' -address/-bundle); end
  # exactly those, by pid.
  for p in $(pgrep -f "$WORK/" 2>/dev/null); do kill "$p" 2>/dev/null; done
  sleep 0.5
  for p in $(pgrep -f "$WORK/" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  # Sandboxes the CRI could not remove leave their cni-* namespaces: ours are those recorded in
  # the work dir (cleanup_netns, one path a line, written by the test as pods are made).
  if [ -f "$WORK/netns.list" ]; then
    while read -r m; do
      [ -e "$m" ] && { umount "$m" 2>/dev/null; rm -f "$m"; }
    done <"$WORK/netns.list"
  fi
  for m in $(awk -v w="$WORK" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null
  done
  ip netns del "$NS" 2>/dev/null
}
