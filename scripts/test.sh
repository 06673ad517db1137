#!/usr/bin/env bash
# Checks the house rules and runs every test of the workspace: `cargo fmt --check`, clippy with
# every warning an error (the lints of [workspace.lints] included), then `cargo test`.
# Installs what the tests need first (idempotent):
# moto's S3-compatible server, which the S3 tests start on a free loopback port;
# cargo-lambda, whose Lambda runtime API emulator (`cargo lambda watch`) the Lambda test starts;
# the deltalake Python reader (with pyarrow), which reads the table as other tools do;
# and Debian's chromium and chromium-driver, the headless browser the console tests drive.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  apt=(apt-get)
  [ "$(id -u)" -eq 0 ] || apt=(sudo apt-get)
  export DEBIAN_FRONTEND=noninteractive
  "${apt[@]}" install -y --no-install-recommends chromium chromium-driver >/dev/null ||
    { "${apt[@]}" update >/dev/null && "${apt[@]}" install -y --no-install-recommends chromium chromium-driver >/dev/null; }
fi

need=()
command -v moto_server >/dev/null 2>&1 || need+=('moto[server]>=5.1')
command -v cargo-lambda >/dev/null 2>&1 || need+=('cargo-lambda>=1.8')
python3 -c 'import deltalake, pyarrow' >/dev/null 2>&1 || need+=('deltalake>=1.1' 'pyarrow>=15')
if [ ${#need[@]} -gt 0 ]; then
  python3 -m pip install --quiet --disable-pip-version-check "${need[@]}"
fi
# pyenv installs console scripts behind shims that need a rehash to appear on PATH.
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
for tool in moto_server cargo-lambda; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "$tool is not on PATH after installing it with pip" >&2
    exit 1
  }
done

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked "$@"
