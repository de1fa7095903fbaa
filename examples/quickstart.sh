#!/usr/bin/env bash
# Quick start: build oms-channels, start the sandbox channel on loopback, set up
# a demo account in a throwaway config/data dir, log in, run the due jobs, and
# show the result and the status. Touches nothing outside its temp dir.
set -euo pipefail

cd "$(dirname "$0")/.."
echo "==> building (first build takes a minute or two)"
cargo build --locked --quiet --bin oms-channels --example sandbox_channel
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="$target_dir/debug/oms-channels"
sandbox_bin="$target_dir/debug/examples/sandbox_channel"

work=$(mktemp -d "${TMPDIR:-/tmp}/oms-channels-quickstart.XXXXXX")
sandbox_pid=""
cleanup() {
    [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "==> starting the sandbox channel (1000 products, rotating refresh tokens)"
mkfifo "$work/ready"
"$sandbox_bin" --products 1000 >"$work/ready" &
sandbox_pid=$!
read -r ready <"$work/ready"
field() { printf '%s' "$ready" | sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
base_url=$(field base_url)
token_url=$(field token_url)
client_id=$(field client_id)
echo "    sandbox at $base_url"

export OMS_CHANNELS_CONFIG_DIR="$work/config"
export OMS_CHANNELS_DATA_DIR="$work/data"
export DEMO_SHOP_SECRET
DEMO_SHOP_SECRET=$(field client_secret)
run() { echo "\$ oms-channels $*"; "$bin" "$@"; }

echo "==> setting up account demo"
run account add demo --display-name "Demo Retail" --master-product-source oms
run channel add shop --type beta-rest --base-url "$base_url" \
    --token-url "$token_url" --client-id "$client_id" --client-secret-env DEMO_SHOP_SECRET
run account set-master-source shop
run channel set-period shop auth-refresh 50m
run channel set-period shop import-products 1h
field refresh_token | "$bin" channel login shop
run validate

echo "==> running the due jobs"
run run-once
echo "==> a second run right away finds nothing due"
run run-once
run status
run products count
