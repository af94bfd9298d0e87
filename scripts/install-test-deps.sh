#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine (run as root, or with sudo).
# Idempotent: already-installed packages are skipped quickly.
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

apt_packages=(restic borgbackup postgresql chromium chromium-driver)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# Azurite (Azure Blob emulator) from npm; moto's S3 server from PyPI.
command -v azurite-blob >/dev/null || $SUDO npm install -g --silent azurite
command -v moto_server >/dev/null || python3 -m pip install --quiet 'moto[server]'
