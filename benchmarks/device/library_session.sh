#!/usr/bin/env bash
# A library on Ray measured on a lent GPU machine in ONE device call (the limit is 10 min; this
# plans for about 9): `engine-bench --suite library-gpu`, films/hour of eight one-minute 1080p
# films for the sequential engine-run loop and --workers 1, 2 and 4 analysis actors sharing the
# GPU, each figure taken once the work is under way (benchmarks.library_bench).
#
# Ray must be importable there: on the image, or a wheel in .whl (git-ignored, travels with
# `carry`) beside PyAV and PyNvVideoCodec as for gpu_session.sh. Ray's cp312 wheel is large: check
# that .whl and the working tree stay under the 64 MiB a call carries before the call.
# The call (device tool):
#   run(command="bash benchmarks/device/library_session.sh", carry=[".whl"], timeout_s=600)
# What comes back in $OUT: session.log (versions, nvidia-smi, every step), report.json, report.md.
set -uo pipefail
START=$SECONDS
OUT=${OUT:-$PWD/out/library-session}
CACHE=/tmp/filmline-bench
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 ENGINE_HOME=/tmp/filmline-home

source "$(dirname "$0")/install_here.sh"

session() {
    echo "== setup"
    install_here
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    nproc
    python3 -c 'import ray, av; print("ray", ray.__version__, "| av", av.__version__)' || { echo "no Ray or PyAV: stop"; exit 1; }

    # SIGINT at 540 s: the suite stops and still writes its report with the figures it has.
    echo "== engine-bench --suite library-gpu ($((SECONDS - START)) s)"
    timeout -s INT -k 20 $(( 540 - (SECONDS - START) )) python3 -m filmline.benchmarks.cli --suite library-gpu \
        --out "$OUT" --cache "$CACHE"

    echo "== done in $((SECONDS - START)) s"
    ls -la "$OUT"
}

session 2>&1 | tee "$OUT/session.log"
