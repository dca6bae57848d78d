# The course's commands. `just` lists them; each works from a fresh clone.
# Stages are named by number: `just run 2`, `just test-stage 3`.

# List the recipes.
default:
    @{{just_executable()}} --list --unsorted

# --- Your own server -------------------------------------------------------

# Create my-server/, your own server (a Rust project with an empty main), and test it from now on.
[no-exit-message]
start: (_say-if-building "course")
    @cargo run -q -p tests --bin course -- start

# Test your program, in any language, from now on: `just register "python3 server.py"` (`--build CMD` builds it first; `--stages 12-`: for those stages only). No CMD: show it.
[positional-arguments]
[no-exit-message]
register *ARGS: (_say-if-building "course")
    @cargo run -q -p tests --bin course -- register "$@"

# Test the reference stages again, not your program.
unregister:
    @cargo run -q -p tests --bin course -- unregister

# Run the stages in order against your program (or CMD): which pass, the first that fails and why, what to read next.
[no-exit-message]
progress CMD="": (_say-if-building "course")
    @ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; cargo run -q -p tests --bin course -- progress --server {{quote(CMD)}}

# Stage N's hint K (1 first: a question; the last is nearly the answer).
hint N K="1":
    @cargo run -q -p tests --bin course -- hint {{N}} {{K}}

# Stuck on stage N? Start my-server/ again from the reference stage it builds on, usually N-1 (yours is moved aside, not deleted). A program of yours in another language stays registered (`--register`: test my-server/ instead).
checkpoint N *ARGS:
    @cargo run -q -p tests --bin course -- checkpoint {{N}} {{ARGS}}

# Test stage N (default: the first you have not passed) again each time you save a file of your program.
[no-exit-message]
watch N="": (_say-if-building "course")
    @ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; cargo run -q -p tests --bin course -- watch {{N}}

# --- The stages ------------------------------------------------------------

# Run stage N's reference server, e.g. `just run 2 --port 6380`.
run N *ARGS:
    @cargo run -q -p "stage-$({{just_executable()}} _stage-folder {{N}})" -- {{ARGS}}

# (The test recipes raise the limit of open files to the most allowed: the chat stages' checks open over a thousand connections.)
# Run stage N's checks against your program (registered, or CMD in any language: the tester adds `--port N`), else the reference. CMD `reference`: the reference.
[no-exit-message]
test-stage N CMD="": (_say-if-building "tester")
    @ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; cargo run -q -p tests --bin tester -- --stage {{N}} --server {{quote(CMD)}}

# Run the checks of stages 1 to N that still apply to stage N, in order, against your program (or CMD, or the reference).
[no-exit-message]
test-upto N CMD="": (_say-if-building "tester")
    @ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; cargo run -q -p tests --bin tester -- --upto {{N}} --server {{quote(CMD)}}

# Everything: every reference stage against its own and earlier stages' checks, and the tester's own tests.
test:
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; cargo test --workspace

# What stage N changes over the stage it builds on (usually N-1): the lesson, as a diff.
diff N:
    #!/usr/bin/env bash
    set -euo pipefail
    current=$({{just_executable()}} _stage-folder {{N}})
    # The base is in the stage's checks: `base: 4,` (0 for stage 1).
    base=$(sed -n 's/^    base: \([0-9]*\),$/\1/p' tests/src/stages/stage_$(printf '%02d' "{{N}}")_*.rs)
    if [ "${base:-0}" -eq 0 ]; then
        echo "stage {{N}} is the first stage: read stages/$current/src/main.rs"
        exit 0
    fi
    previous=$({{just_executable()}} _stage-folder "$base")
    echo "stage {{N}} ($current) over stage $base ($previous):"
    # git diff exits 1 when the folders differ, which they do.
    git diff --no-index --color=auto "stages/$previous" "stages/$current" || [ $? -eq 1 ]

# List the stages and each one's checks.
stages:
    @cargo run -q -p tests --bin tester -- --list

# Stage N (default 10, the whole Redis) under redis-benchmark, side by side with a real redis-server: requests/s and the ratio.
bench N="10" REQUESTS="200000":
    @bash tests/maintainer/compare-with-redis.sh {{N}} {{REQUESTS}}

# Stage 9's hash table against std's HashMap: 1M inserts, lookups, removes; throughput and the worst single insert.
bench-table:
    @cargo run -q --release -p maintainer --bin hash-table-bench

# The same workload over RESP (stage 10) and the binary protocol (stage 11), pipelined and not.
bench-protocols:
    @cargo run -q --release -p maintainer --bin protocol-bench

# Stage 18's sorted set against redis-server's: ZADD of 1M random members, ZRANK, ZRANGE of 10 from a random rank and from a random score, ZCOUNT, ZREM, pipelined and not; requests a second and each server's processor time a command (best of three rounds); memory a member.
bench-zset:
    @cargo run -q --release -p maintainer --bin zset-bench

# What a key costs: 1M SETs of 16-byte keys and values (VALUE bytes) into stage S (9 on) and into redis-server; resident memory's growth per key, and the ratio.
bench-memory S="9" KEYS="1000000" VALUE="16":
    @cargo run -q --release -p maintainer --bin memory-bench -- --stage {{S}} --keys {{KEYS}} --value-length {{VALUE}}

# A chat stage (12-14, default 14) under a fanout load: N receivers, one sender, a window of W messages in flight; deliveries/s and lost deliveries. Beside antirez's smallchat, in alternating rounds, with SMALLCHAT=PATH or `--smallchat PATH` after S.
bench-fanout N="100" W="16" M="5000" S="14" *ARGS:
    @ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; cargo run -q --release -p maintainer --bin fanout-bench -- --stage {{S}} --receivers {{N}} --window {{W}} --messages {{M}} {{ARGS}}

# The chat on Redis (stage 19, or S=20 with its page off) under the fanout load: N receivers over 1, 2 and 4 processes, on redis-server and on the course's Redis, beside stage 14 alone; one table.
bench-chat-redis N="100" W="16" M="2000" S="19":
    @ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; cargo run -q --release -p maintainer --bin chat-redis-bench -- --stage {{S}} --receivers {{N}} --window {{W}} --messages {{M}}

# Pub/Sub (stage 15) against redis-server in one run: one publisher, N = 1, 100 and 1,000 subscribers on one channel, pipelined and not; deliveries per second and lost.
bench-pubsub *ARGS:
    @ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; cargo run -q --release -p maintainer --bin pubsub-bench -- {{ARGS}}

# Serve the tutorial at http://localhost:3000 (needs mdbook: `cargo install --locked mdbook`).
tutorial:
    @mdbook serve tutorial

# Build the tutorial into tutorial/book.
tutorial-build:
    @mdbook build tutorial

# --- For teachers and the course itself ------------------------------------

# Get a machine ready for a workshop without network: fetch and build every crate, build the book, list missing tools.
prepare:
    #!/usr/bin/env bash
    set -uo pipefail
    cargo fetch && cargo build --workspace --all-targets || exit 1
    # The learner's project (`just start`, `just checkpoint N`) uses the same crates, at the versions of Cargo.lock.
    if command -v mdbook >/dev/null; then mdbook build tutorial >/dev/null 2>&1 && echo "the book: tutorial/book/index.html"; fi
    echo
    missing=0
    check() {
        if command -v "$1" >/dev/null; then printf '  ok       %-16s %s\n' "$1" "$2"
        else printf '  MISSING  %-16s %s (install: %s)\n' "$1" "$2" "$3"; missing=1; fi
    }
    check cargo "builds and runs everything" "https://rustup.rs"
    check just "the course's commands" "cargo install --locked just"
    check redis-cli "talk to stages 2-10" "apt-get install redis-tools / brew install redis"
    check nc "raw bytes, the chat stages" "apt-get install netcat-openbsd / brew install netcat"
    check mdbook "the book: just tutorial" "cargo install --locked mdbook"
    check redis-server "just bench: the real Redis to compare with (optional)" "apt-get install redis-server"
    check redis-benchmark "just bench (optional)" "apt-get install redis-tools"
    check python3 "the tutorial's Python example (optional)" "your system's python3"
    echo
    if [ "$missing" = 0 ]; then echo "Ready: everything the course needs works offline now."
    else echo "Install what is missing while you have network; everything else is ready offline."; fi

# The course lint: every stage has its header, chapter, hints, checks, README row and recipes; the book's includes resolve; every reference stage passes its checks.
check-course:
    @cargo run -q -p maintainer --bin check-course
    @ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; cargo test -q -p tests --test reference_stages

# What CI runs: format, lints, every test, redis-cli against the stages, the book.
ci:
    bash .ci/run

# Says so when cargo is about to build the tester's programs, the first time: it takes a while, and `cargo run -q` is silent.
[private]
_say-if-building BIN:
    @[ -x "${CARGO_TARGET_DIR:-target}/debug/{{BIN}}" ] || echo "(Building the course's {{BIN}} first, once: about 20 s.)"

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
