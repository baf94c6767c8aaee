#!/usr/bin/env bash
# Installs what bulkhead needs to build and test, from Debian 12's packages only. Run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  # build
  cmake ninja-build g++ pkg-config
  libpcap-dev libnftnl-dev libmnl-dev libboost1.81-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libcli11-dev libgtest-dev googletest
  # tests: real kernel networking, real servers and clients
  nftables iproute2 iputils-ping socat netcat-openbsd tcpdump python3 procps time
)
# `scripts/setup.sh --bench` adds what bench/ compares against (not needed by the tests).
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(tshark iperf3)
fi
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
