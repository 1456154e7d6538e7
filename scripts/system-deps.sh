#!/usr/bin/env bash
# Install the Debian packages Jinqiao needs, only those that are missing (espeak-ng and sox for TTS,
# PostgreSQL for the store tests,
# Chromium, its WebDriver and a CJK font for the browser tests of the web console). Extra package names may be passed as arguments.
set -eu
wanted=(espeak-ng sox postgresql chromium chromium-driver fonts-wqy-microhei "$@")
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
