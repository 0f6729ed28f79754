#!/usr/bin/env bash
# Installs the Debian 12 packages portsurge needs to build, run and test, when missing.
# Idempotent: with everything installed it only checks (no apt-get update, no network).
set -euo pipefail

packages=(
  build-essential pkg-config meson ninja-build clang
  libglib2.0-dev libfixbuf-dev libpcap-dev libjson-glib-dev
  libhiredis-dev libcurl4-openssl-dev libcairo2-dev libmicrohttpd-dev
  redis-server softflowd nfdump docker-compose
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "portsurge: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
