#!/usr/bin/env bash
# The vision-language GPU figure in ONE device call: the vision-language tasks on a LLaVA-1.5-7B-shaped model
# (CLIP ViT-L/14-336 + Llama-2-7B shapes) with random weights, built on the GPU in fp16 from its
# config alone (about 14 GB, in the bench cache), then `engine-bench --suite vlm`: requests/s and
# generated tokens/s of the transformers backend in fp16 for action labels (scored, constrained)
# and captions (up to 100 tokens). Random weights do the same arithmetic as real ones; only where an
# answer stops differs (the report says so).
#
# The GPU image has no PyAV; carry it (with PyNvVideoCodec, as the other device scripts do):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl av==18.1.0 PyNvVideoCodec==2.2.4
# The call (device tool):
#   run(command="bash benchmarks/device/vlm_session.sh", carry=[".whl"], timeout_s=600)
# What comes back in $OUT: session.log, report.json, report.md; commit them under
# benchmarks/results/<date>-<gpu name>/ (engine-bench's name for that machine).
set -uo pipefail
OUT=${OUT:-$PWD/out/vlm-session}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 ENGINE_HOME=/tmp/filmline-home

source "$(dirname "$0")/install_here.sh"

session() {
    install_here
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    python3 -m pip list 2>/dev/null | grep -i -E "^(av|torch|transformers|tokenizers) "
    # SIGINT before the 10-minute limit: the suite still writes what it measured.
    timeout -s INT -k 20 560 python3 -m filmline.benchmarks.cli --suite vlm --out "$OUT" --cache /tmp/filmline-bench
}

session 2>&1 | tee "$OUT/session.log"
