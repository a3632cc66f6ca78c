#!/usr/bin/env bash
# Installs the pinned libvips (package-lock.json) into node_modules/ with `npm ci`, unless the
# installed copy already matches the lockfile. Idempotent; called by scripts/install-deps.sh
# and, when the library is missing at configure time, by libvips.cmake.
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.nodus-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then exit 0; fi
if ! command -v npm >/dev/null; then
  echo "third_party/libvips: npm is needed to install libvips (apt-get install npm)" >&2
  exit 1
fi
echo "third_party/libvips: npm ci (libvips as sharp ships it, pinned by package-lock.json)" >&2
npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error
echo "$want" > "$stamp"
