#!/usr/bin/env bash
# The proof that the suite has no flaky tests: run it RUNS times in a row (default 5) while
# BURNERS processes (default 2) each keep one CPU core busy, so that every wait, timeout and
# bound in the tests is exercised on a starved machine.
#
# Usage (from anywhere; it runs in the repository root):
#
#     tests/stress/run_under_load.sh [RUNS] [-- PYTEST_ARGS...]
#
# Environment: BURNERS (default 2), PYTHON (default .venv/bin/python, else python3), LOGS (a
# directory for the runs' logs; default a new temporary one).
# Prints one line per run ("run 2/5: pass (41 s)"), the failing tests of a failed run and the
# path of its full log, then a summary. Exits 0 only if every run passed; 1 if any failed; 2 on
# bad usage. The burners are this script's own children: they are killed (by their process
# ids) when it exits, however it exits.
set -uo pipefail

usage() {
    sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

runs=5
if [[ $# -gt 0 && $1 != "--" ]]; then
    runs=$1
    shift
fi
if [[ $# -gt 0 ]]; then
    [[ $1 == "--" ]] || usage
    shift
fi
burners=${BURNERS:-2}
[[ $runs =~ ^[1-9][0-9]*$ && $burners =~ ^[0-9]+$ ]] || usage

cd "$(dirname "$0")/../.." || exit 2
python=${PYTHON:-}
if [[ -z $python ]]; then
    if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
fi

if [[ -n ${LOGS:-} ]]; then
    logs=$LOGS
    mkdir -p "$logs" || exit 2
else
    logs=$(mktemp -d "${TMPDIR:-/tmp}/rxrealtime-stress.XXXXXX") || exit 2
fi
pids=()  # the burners
suite=""  # the pytest run in progress
cleanup() {
    local children=("${pids[@]}")
    [[ -n $suite ]] && children+=("$suite")
    if [[ ${#children[@]} -gt 0 ]]; then
        kill "${children[@]}" 2>/dev/null
        wait "${children[@]}" 2>/dev/null
    fi
    pids=()
    suite=""
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

for ((i = 0; i < burners; i++)); do
    "$python" -c 'while True: pass' &
    pids+=($!)
done
echo "burners: ${pids[*]:-none} (${burners} busy processes on $(nproc 2>/dev/null || echo '?') cores)"
echo "command: $python -m pytest -p no:cacheprovider $*"
echo "logs: $logs"

failed=0
for ((run = 1; run <= runs; run++)); do
    for pid in "${pids[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "burner $pid is gone: the load is not there, the proof would be void" >&2
            exit 1
        fi
    done
    log="$logs/run-$run.log"
    started=$SECONDS
    # in the background: a signal to this script is handled at once, not after the run
    "$python" -m pytest -p no:cacheprovider "$@" >"$log" 2>&1 &
    suite=$!
    wait "$suite"
    status=$?
    suite=""
    if [[ $status -eq 0 ]]; then
        echo "run $run/$runs: pass ($((SECONDS - started)) s) $(tail -n 1 "$log")"
    else
        failed=$((failed + 1))
        echo "run $run/$runs: FAIL ($((SECONDS - started)) s) $(tail -n 1 "$log")"
        grep -E '^(FAILED|ERROR) ' "$log" | sed 's/^/    /'
        echo "    full log: $log"
    fi
done

if [[ $failed -eq 0 ]]; then
    echo "all $runs runs passed under $burners burners"
    exit 0
fi
echo "$failed of $runs runs failed under $burners burners"
exit 1
