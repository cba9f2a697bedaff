#!/usr/bin/env bash
# End-to-end benchmark, side by side in one run, against the local ECS emulator:
#   copy-image (release build)   vs   the official Python SDK (aliyun-python-sdk-core +
#   aliyun-python-sdk-ecs, in a virtualenv made here)   vs   curl sending one pre-signed request
#   (the floor: one process and one round trip).
# Prints medians, ratios and peak RSS, plus start-up times and the binary size.
# Usage: bash bench/run.sh            (RUNS=50 bash bench/run.sh for more runs)
# Needs: cargo, python3 with venv, curl; installs hyperfine and GNU time with apt-get if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-30}
OUT=target/bench
mkdir -p "$OUT"

install_pkg() {
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq "$@" >/dev/null
  fi
}
command -v hyperfine >/dev/null || install_pkg hyperfine
[ -x /usr/bin/time ] || install_pkg time
command -v curl >/dev/null || install_pkg curl

echo "== building (release)" >&2
cargo build --release --quiet --bin copy-image --example ecs-emulator

echo "== Python SDK virtualenv" >&2
if [ ! -x "$OUT/venv/bin/python" ]; then
  python3 -m venv "$OUT/venv"
  "$OUT/venv/bin/pip" install --quiet --disable-pip-version-check \
    aliyun-python-sdk-core==2.16.1 aliyun-python-sdk-ecs==4.24.83
fi
PY="$OUT/venv/bin/python"

echo "== starting the emulator" >&2
target/release/examples/ecs-emulator >"$OUT/emulator.env" 2>/dev/null &
EMULATOR=$!
trap 'kill $EMULATOR 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q ALIBABA_CLOUD_ECS_ENDPOINT "$OUT/emulator.env" && break; sleep 0.05; done
# shellcheck disable=SC1091
source <(grep '^export' "$OUT/emulator.env")
export ALIBABA_CLOUD_ECS_METADATA_DISABLED=true
IMAGE=m-bp1sourceimage000001
BIN=target/release/copy-image

# Each tool must really copy before it is timed.
"$BIN" -q --image-id "$IMAGE" --destination-region cn-shanghai >/dev/null
"$PY" bench/sdk_copy_image.py "$IMAGE" >/dev/null
"$PY" bench/sign_url.py "$IMAGE" "$OUT/curl.cfg" && curl -K "$OUT/curl.cfg"

echo "== end to end: $RUNS runs each" >&2
hyperfine -N --warmup 3 --runs "$RUNS" --style basic --export-json "$OUT/e2e.json" \
  --prepare true --prepare true --prepare "$PY bench/sign_url.py $IMAGE $OUT/curl.cfg" \
  -n copy-image "$BIN -q --image-id $IMAGE --destination-region cn-shanghai" \
  -n python-sdk "$PY bench/sdk_copy_image.py $IMAGE" \
  -n curl "curl -K $OUT/curl.cfg" >&2

echo "== start-up: --help and a validation error" >&2
hyperfine -N -i --warmup 5 --runs 100 --style basic --export-json "$OUT/startup.json" \
  -n help "$BIN --help" \
  -n validation-error "$BIN --image-id bad --destination-region cn-shanghai" >&2

peak_rss() { # the largest maximum resident set size of 5 runs, in KiB
  local max=0 kib
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f '%M' -o "$OUT/rss" "$@" >/dev/null 2>&1
    kib=$(tail -n 1 "$OUT/rss")
    [ "$kib" -gt "$max" ] && max=$kib
  done
  echo "$max"
}
RSS_CI=$(peak_rss "$BIN" -q --image-id "$IMAGE" --destination-region cn-shanghai)
RSS_PY=$(peak_rss "$PY" bench/sdk_copy_image.py "$IMAGE")
"$PY" bench/sign_url.py "$IMAGE" "$OUT/curl.cfg"
/usr/bin/time -f '%M' -o "$OUT/rss" curl -K "$OUT/curl.cfg"
RSS_CURL=$(tail -n 1 "$OUT/rss")
SIZE=$(stat -c %s "$BIN")

"$PY" - "$OUT/e2e.json" "$OUT/startup.json" "$RSS_CI" "$RSS_PY" "$RSS_CURL" "$SIZE" <<'EOF'
import json, sys
e2e = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
start = {r["command"]: r for r in json.load(open(sys.argv[2]))["results"]}
rss = dict(zip(["copy-image", "python-sdk", "curl"], map(int, sys.argv[3:6])))
ms = lambda r: r["median"] * 1000
ci, py, curl = e2e["copy-image"], e2e["python-sdk"], e2e["curl"]
print("| tool | median wall time | mean ± σ | peak RSS |")
print("|---|---|---|---|")
for name in ["copy-image", "python-sdk", "curl"]:
    r = e2e[name]
    print(f"| {name} | {ms(r):.2f} ms | {r['mean']*1000:.2f} ± {r['stddev']*1000:.2f} ms | {rss[name]/1024:.1f} MiB |")
print()
print(f"- copy-image / curl median ratio: {ci['median']/curl['median']:.2f} (target ≤ 1.0)")
print(f"- Python SDK / copy-image median ratio: {py['median']/ci['median']:.1f}× (target ≥ 25×)")
print(f"- copy-image peak RSS: {rss['copy-image']/1024:.1f} MiB (target ≤ 15 MiB)")
print(f"- stripped release binary: {int(sys.argv[6])/1048576:.2f} MiB (target ≤ 6 MiB)")
print(f"- `--help`: {ms(start['help']):.2f} ms median; validation error: {ms(start['validation-error']):.2f} ms median (target < 5 ms)")
EOF
