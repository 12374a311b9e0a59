#!/usr/bin/env bash
# Installs the system packages the interop tests and benchmarks need (strongSwan as the reference IKEv2 peer,
# iproute2 for network namespaces, iperf3 for traffic through the tunnel, tcpdump for captures on the outside
# link, chromium for the headless web UI test). Idempotent and quiet: does nothing when everything is present.
# Usage: scripts/install-test-deps.sh [--with-capture | --build-only]
#   --with-capture adds tshark for fixture captures; --build-only installs just what building and running the
#   gateway needs (make run): the C toolchain, OpenSSL headers for the native addon, iproute2.
set -euo pipefail

packages=(libssl-dev make g++ python3 strongswan-swanctl strongswan-charon libcharon-extra-plugins libstrongswan-extra-plugins strongswan-pki iproute2 iputils-ping ethtool iperf3 tcpdump freeradius freeradius-utils chromium)
if [[ "${1:-}" == "--with-capture" ]]; then packages+=(tshark); fi
if [[ "${1:-}" == "--build-only" ]]; then packages=(libssl-dev make g++ python3 iproute2); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then missing+=("$p"); fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else
    echo "install-test-deps: need root to install: ${missing[*]}" >&2; exit 1
  fi
else SUDO=(); fi

export DEBIAN_FRONTEND=noninteractive
echo "install-test-deps: installing ${missing[*]}" >&2
"${SUDO[@]}" apt-get update -qq >/dev/null
# tshark asks whether non-root users may capture; answer no, non-interactively.
echo 'wireshark-common wireshark-common/install-setuid boolean false' | "${SUDO[@]}" debconf-set-selections 2>/dev/null || true
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged units must not start a system-wide charon that would hold UDP 500/4500 in the host namespace,
# nor a system FreeRADIUS (tests run private instances on their own ports).
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  "${SUDO[@]}" systemctl disable --now strongswan-starter.service strongswan.service freeradius.service >/dev/null 2>&1 || true
fi
