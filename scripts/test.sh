#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need first (idempotent):
# moto's S3-compatible server, which the S3 tests start on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v moto_server >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check 'moto[server]>=5.1'
fi
# pyenv installs console scripts behind shims that need a rehash to appear on PATH.
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
command -v moto_server >/dev/null 2>&1 || {
  echo "moto_server is not on PATH after installing moto[server]" >&2
  exit 1
}

cargo test --workspace --locked "$@"
