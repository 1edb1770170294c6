#!/usr/bin/env bash
# The GPU fast path checked and measured on a lent GPU in ONE device call (the limit is 10 min;
# this plans for about 9): set up, write the ten-minute 1080p H.264 film in the background while
# the GPU tests and the kernel benchmark run, then `engine-bench --suite gpu` on it.
#
# Before the call, once per checkout, on the developer machine (PyAV and PyNvVideoCodec are not
# on the GPU image; .whl is git-ignored and travels with `carry`; keep one version of each):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl av==18.1.0 PyNvVideoCodec==2.2.4
# (about 60 MiB; with the working tree it stays under the 64 MiB a call carries)
# The call (device tool):
#   run(command="bash benchmarks/device/gpu_session.sh", carry=[".whl"], timeout_s=600)
# What comes back in $OUT (7 files; the tool returns at most 8):
#   session.log                    nvidia-smi, driver, versions, and the output of every step
#   kernels_bench.json, .md        python -m filmline.benchmarks.kernels_bench --device cuda
#   report.json, report.md, gpu-stages.png, gpu-side-by-side.png    engine-bench --suite gpu
# Commit them under benchmarks/results/<date>-<gpu name>/ (the name engine-bench would give).
set -uo pipefail
START=$SECONDS
OUT=${OUT:-$PWD/out/gpu-session}
CACHE=/tmp/filmline-bench
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 ENGINE_HOME=/tmp/filmline-home
until_mark() {  # seconds left until second $1 of the session, at least 60
    local left=$(( $1 - (SECONDS - START) ))
    echo $(( left > 60 ? left : 60 ))
}

source "$(dirname "$0")/install_here.sh"

session() {
    echo "== setup"
    install_here
    nvidia-smi
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv
    python3 -c 'import json, torch; from benchmarks import machine
print(json.dumps({**machine.machine_info(), **machine.versions()}, indent=1))
print(torch.cuda.get_device_properties(0), "| cuDNN", torch.backends.cudnn.version())'
    python3 -m pip list 2>/dev/null | grep -i -E "^(av|pynvvideocodec|tensorrt|triton|torch|transformers) "

    echo "== the ten-minute film, written in the background ($((SECONDS - START)) s)"
    python3 -m filmline.benchmarks.long_film --cache "$CACHE" --workers 10 > /tmp/film.log 2>&1 &
    local film=$!

    echo "== GPU tests ($((SECONDS - START)) s)"
    timeout -k 10 180 python3 -m pytest -m gpu -q -rfEs -p no:cacheprovider --continue-on-collection-errors tests

    echo "== kernel benchmark ($((SECONDS - START)) s)"
    timeout -k 10 90 python3 -m filmline.benchmarks.kernels_bench --device cuda --out "$OUT" --warmup 3 --repeats 10

    echo "== waiting for the film ($((SECONDS - START)) s)"
    wait $film
    cat /tmp/film.log

    # SIGINT at the mark: the suite stops, lists what it did not reach, and still writes its report.
    echo "== engine-bench --suite gpu ($((SECONDS - START)) s, $(until_mark 570) s left)"
    timeout -s INT -k 20 "$(until_mark 570)" python3 -m filmline.benchmarks.cli --suite gpu --out "$OUT" --cache "$CACHE" \
        --vlm-model random:tiny

    echo "== done in $((SECONDS - START)) s"
    ls -la "$OUT"
}

session 2>&1 | tee "$OUT/session.log"
