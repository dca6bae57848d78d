#!/usr/bin/env bash
# Runs redis-benchmark against a reference stage (built in release mode) and,
# when it is installed, against a real redis-server, in one run on this
# machine, and prints requests per second side by side with their ratio.
#
#   tests/maintainer/compare-with-redis.sh [STAGE] [REQUESTS]     (just bench 10)
#
# The two servers take turns, test by test, so that a noisy moment on the
# machine does not fall on one of them only. Figures from a small shared
# machine vary by 10% or more from run to run: compare ratios within a run.
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=${1:-10}
requests=${2:-200000}
clients=50

command -v redis-benchmark >/dev/null || {
    echo "redis-benchmark is missing: apt-get install redis-tools (Debian, Ubuntu), brew install redis (macOS)"
    exit 1
}
folder=$(basename "$(ls -d stages/"$(printf '%02d' "$stage")"-*)")
package="stage-$folder"
echo "building $package (release)..."
cargo build --quiet --release -p "$package"

logs=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$logs"; }
trap cleanup EXIT

# A free port: one nothing answers on.
free_port() {
    local port
    while :; do
        port=$(( 20000 + RANDOM % 10000 ))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}
wait_for() {
    for _ in $(seq 100); do
        redis-cli -p "$1" PING >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "nothing answered PING on port $1"; exit 1
}

ours=$(free_port)
"${CARGO_TARGET_DIR:-target}/release/$package" --port "$ours" > "$logs/stage.log" 2>&1 &
pids+=($!)
wait_for "$ours"
names=("stage $stage")
ports=("$ours")
if command -v redis-server >/dev/null; then
    theirs=$(free_port)
    redis-server --port "$theirs" --save '' --appendonly no --daemonize no \
        > "$logs/redis.log" 2>&1 &
    pids+=($!)
    wait_for "$theirs"
    names+=("redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')")
    ports+=("$theirs")
else
    echo "(redis-server is not installed: showing stage $stage alone; apt-get install redis-server to compare)"
fi

# requests per second of one test: redis-benchmark --csv prints
# "SET","92421.44",... after a header line.
rps() {
    redis-benchmark -p "$1" -t "$2" -c "$clients" -n "$requests" -P "$3" --csv 2>/dev/null |
        awk -F'","' 'NR==2 { print int($2) }'
}

echo
echo "redis-benchmark -c $clients -n $requests, on $(nproc) cores; requests per second:"
printf '%-6s %-5s' "test" "-P"
for name in "${names[@]}"; do printf ' %22s' "$name"; done
[ ${#ports[@]} -eq 2 ] && printf ' %8s' "ratio"
echo
for pipeline in 1 16; do
    for test in set get; do
        results=()
        for port in "${ports[@]}"; do results+=("$(rps "$port" "$test" "$pipeline")"); done
        printf '%-6s %-5s' "${test^^}" "$pipeline"
        for result in "${results[@]}"; do printf ' %22s' "$result"; done
        if [ ${#results[@]} -eq 2 ]; then
            awk -v a="${results[0]}" -v b="${results[1]}" 'BEGIN { printf " %7.2fx", a / b }'
        fi
        echo
    done
done
