# The course's commands. `just` lists them; each works from a fresh clone.
# Stages are named by number: `just run 2`, `just test-stage 3`.

# List the recipes.
default:
    @{{just_executable()}} --list --unsorted

# Run stage N's reference server, e.g. `just run 2 --port 6380`.
run N *ARGS:
    @cargo run -q -p "stage-$({{just_executable()}} _stage-folder {{N}})" -- {{ARGS}}

# (The test recipes raise the limit of open files to the most allowed: stage 8's checks open over a thousand connections.)
# Run stage N's checks against the reference stage, or against CMD: your own program, any language (the tester adds `--port N`).
test-stage N CMD="":
    @ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; cargo run -q -p tests --bin tester -- --stage {{N}} --server {{quote(CMD)}}

# Run the checks of stages 1 to N, in order, against the reference stage N or against CMD.
test-upto N CMD="":
    @ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; cargo run -q -p tests --bin tester -- --upto {{N}} --server {{quote(CMD)}}

# Everything: every reference stage against its own and earlier stages' checks, and the tester's own tests.
test:
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; cargo test --workspace

# What stage N changes over stage N-1: the lesson, as a diff.
diff N:
    #!/usr/bin/env bash
    set -euo pipefail
    current=$({{just_executable()}} _stage-folder {{N}})
    if [ "{{N}}" -le 1 ]; then
        echo "stage 1 is the first stage: read stages/$current/src/main.rs"
        exit 0
    fi
    previous=$({{just_executable()}} _stage-folder $(( {{N}} - 1 )))
    # git diff exits 1 when the folders differ, which they do.
    git diff --no-index --color=auto "stages/$previous" "stages/$current" || [ $? -eq 1 ]

# List the stages and each one's checks.
stages:
    @cargo run -q -p tests --bin tester -- --list

# Stage N (default 5) under redis-benchmark, side by side with a real redis-server: requests/s and the ratio.
bench N="5" REQUESTS="200000":
    @bash tests/bench/compare-with-redis.sh {{N}} {{REQUESTS}}

# Stage 6's hash table against std's HashMap: 1M inserts, lookups, removes; throughput and the worst single insert.
bench-table:
    @cargo bench -q -p stage-06-hash-table --bench hash_table

# The same workload over RESP (stage 6) and the binary protocol (stage 7), pipelined and not.
bench-protocols:
    @cargo run -q --release -p tests --bin protocol-bench

# Stage 8 under a fanout load: N receivers, one sender, a window of W messages in flight; deliveries/s and lost deliveries.
bench-fanout N="100" W="16" M="5000":
    @ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; cargo run -q --release -p tests --bin fanout-bench -- --receivers {{N}} --window {{W}} --messages {{M}}

# Serve the tutorial at http://localhost:3000 (needs mdbook: `cargo install --locked mdbook`).
tutorial:
    @mdbook serve tutorial

# Build the tutorial into tutorial/book.
tutorial-build:
    @mdbook build tutorial

# What CI runs: format, lints, every test, redis-cli against the stages, the book.
ci:
    bash .ci/run

# The folder name of stage N under stages/, e.g. `03-many-pings`.
[private]
_stage-folder N:
    #!/usr/bin/env bash
    set -euo pipefail
    number=$(printf '%02d' "{{N}}" 2>/dev/null) || { echo "'{{N}}' is not a stage number" >&2; exit 2; }
    matches=(stages/"$number"-*/)
    if [ ! -d "${matches[0]}" ]; then
        echo "there is no stage {{N}}; the stages are: $(ls stages | tr '\n' ' ')" >&2
        exit 2
    fi
    basename "${matches[0]}"
