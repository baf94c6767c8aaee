#!/usr/bin/env bash
# Installs what bulkhead needs to build and test, and what the README's commands use, from Debian
# 12's packages only. Run as root.
set -euo pipefail
if [[ $(id -u) != 0 ]]; then
  echo "scripts/setup.sh: run as root (sudo -i first)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
packages=(
  # build
  cmake ninja-build g++ pkg-config
  libpcap-dev libnftnl-dev libmnl-dev libboost1.81-dev libyaml-dev libspdlog-dev libfmt-dev
  libcli11-dev libgtest-dev googletest
  # TLS to the Kubernetes API server (inventory/kube_client.cc); its tests make their CA with the
  # openssl command
  libssl-dev openssl
  # the CRI client (inventory/cri_*): gRPC and protobuf, and the code generators for its proto
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  # tests: real kernel networking, real servers and clients
  nftables iproute2 iputils-ping socat netcat-openbsd tcpdump python3 procps time
  # the NetworkPolicy export is checked against the Kubernetes API types (tests/cli)
  python3-kubernetes
  # the Docker discovery test runs its own dockerd in its own network namespace
  docker.io busybox-static util-linux
  # the Kubernetes node test runs its own containerd (CRI plugin) with CNI bridge pods
  containerd runc containernetworking-plugins
  # `bulkhead report` draws the graph with Graphviz's `dot` (and the README's `dot -Tsvg`)
  graphviz
  # the report test opens the review page in headless Chromium
  chromium
)
# `--bench` adds what bench/ compares against, `--lint` what scripts/lint.sh runs (Debian 12's
# LLVM 14: clang-format, clang-tidy), `--fuzz` what scripts/fuzz.sh builds with (clang 14 and its
# libFuzzer runtime); none is needed to build or test, and LLVM is large.
for option in "$@"; do
  case $option in
    --bench) packages+=(tshark iperf3) ;;
    --lint) packages+=(clang-format clang-tidy) ;;
    --fuzz) packages+=(clang-14 libclang-rt-14-dev) ;;
    *) echo "scripts/setup.sh: unknown option $option (--bench, --lint, --fuzz)" >&2; exit 2 ;;
  esac
done
apt-get update
# A dockerd started by the package in the root namespace would set the FORWARD policy to DROP and
# load br_netfilter for every namespace; the tests start their own. Keep the package from
# starting the service during the install (policy-rc.d), and say so if one was already running.
own_policy_rc=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  own_policy_rc=1
fi
trap 'if [[ $own_policy_rc == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
apt-get install -y --no-install-recommends "${packages[@]}"
if command -v systemctl >/dev/null && systemctl is-active --quiet docker.service 2>/dev/null; then
  echo "setup: note: the system docker service is running; the tests do not use it" >&2
fi
