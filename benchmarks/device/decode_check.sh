#!/usr/bin/env bash
# NVDEC on a lent GPU machine in one command (device tool, `carry: [".whl"]`):
#   bash benchmarks/device/decode_check.sh
# .whl/ (git-ignored) holds the wheels the machine lacks, downloaded on the developer machine:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 -d .whl PyNvVideoCodec==2.2.4 av==18.1.0
# Writes under $OUT: nvidia-smi.txt, pytest.txt (the decode tests, GPU ones included),
# api.txt (PyNvVideoCodec's API as installed), decode_check.json + decode_check.log (equivalence
# with PyAV and frames/s on a 1080p H.264 film of $MINUTES minutes, default 10).
set -uo pipefail
OUT=${OUT:-/tmp/decode_check_out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
ls /usr/lib/x86_64-linux-gnu/libnvcuvid* /usr/local/nvidia/lib64/libnvcuvid* >>"$OUT/nvidia-smi.txt" 2>&1
timeout 240 python3 -m pytest tests/test_decode_nvdec.py tests/test_decode_chunks.py tests/test_decode.py -q -rs -p no:cacheprovider 2>&1 | tee "$OUT/pytest.txt"
python3 -m filmline.benchmarks.decode_check --out "$OUT" --minutes "${MINUTES:-10}" 2>&1 | tee "$OUT/decode_check.log" | tail -60
