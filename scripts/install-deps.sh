#!/usr/bin/env bash
# Install personakit's build, test and comparison dependencies from Debian packages.
# Idempotent: quiet and quick when everything is already there.
set -euo pipefail
pkgs=(g++ cmake make pkg-config libeigen3-dev libhdf5-dev hdf5-tools libcli11-dev nlohmann-json3-dev
      libopenmpi-dev openmpi-bin libgtest-dev libgmock-dev libbenchmark-dev libbenchmark-tools
      python3-sklearn python3-faiss python3-matplotlib python3-h5py libopenblas0-pthread time)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
