#!/usr/bin/env bash
# Installs the Debian 12 packages nodus needs, only those missing (idempotent).
# Usage: scripts/install-deps.sh [build|test|loadtest]   (each level includes the previous)
set -euo pipefail
level=${1:-build}

build_pkgs=(g++ cmake ninja-build ccache pkg-config libboost1.81-dev libboost-json1.81-dev
  libspdlog-dev libcli11-dev libssl-dev prometheus-cpp-dev libbenchmark-dev catch2 media-types
  zlib1g-dev nodejs npm)  # npm: installs the pinned libvips (third_party/libvips) at every level
test_pkgs=(curl openssl prometheus)  # prometheus: promtool and a real server for the /metrics tests
loadtest_pkgs=(wrk nginx-light)

pkgs=("${build_pkgs[@]}")
case "$level" in
  build) ;;
  test) pkgs+=("${test_pkgs[@]}") ;;
  loadtest) pkgs+=("${test_pkgs[@]}" "${loadtest_pkgs[@]}") ;;
  *) echo "install-deps: unknown level '$level' (build|test|loadtest)" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  # node/npm may come from outside Debian (e.g. NodeSource); accept the commands.
  if [[ $p == nodejs ]] && command -v node >/dev/null; then continue; fi
  if [[ $p == npm ]] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
libvips() { "$(dirname "$0")/../third_party/libvips/install.sh"; }
[[ ${#missing[@]} -eq 0 ]] && { libvips; exit 0; }

sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
echo "install-deps: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
libvips
