#!/usr/bin/env bash
# The GPU half of docs/benchmarks.md ("On a GPU") in one command: the
# data-bound training rows of the issue-8 target (R3D-18 16x112^2, 8 loader
# workers, GPU busy), a profile of the step, video decoding on NVDEC, then
# the CUDA tests.
#
#   bash benchmarks/gpu_report.sh [OUT_DIR]        # default work_dirs/gpu_report
#
# Environment: PYTHON (python3), WORKERS (8), DATA (/tmp/mmavcl_gpu_videos:
# generated videos, reused between runs), WHEELS (a folder of wheels from
# benchmarks/gpu_wheels.sh, for a machine without a package index:
# installed into /tmp/mmavcl_site first), STEP_TIMEOUT (240: seconds a
# step may take), DEADLINE (seconds the whole report may take: a step gets
# what is left, and steps left with under 30 s are skipped, so the report
# ends, with its summary, inside a lent machine's call limit), DRY_RUN=1
# (print the commands).
# Each step's output goes to OUT_DIR/<step>.log as it runs, and its result
# lines (ratios, GPU busy, waiting time, profile phases) to
# OUT_DIR/summary.txt, so a run cut short still leaves what it measured.
# Steps run most important first; a failed step does not stop the others.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-work_dirs/gpu_report}
PY=${PYTHON:-python3}
WORKERS=${WORKERS:-8}
STEP_TIMEOUT=${STEP_TIMEOUT:-240}
DEADLINE=${DEADLINE:-}
DATA=${DATA:-/tmp/mmavcl_gpu_videos}
CFG=configs/baselines/moco_r3d-18_8xb32-16x2x2-200e_k400.py
BENCH="benchmarks/benchmark_train.py $CFG --device cuda --iters 20 \
--rounds 2 --loader-batches 20 --data-bound-iters 40 --videos 16 \
--loader-workers $WORKERS"
SMALL="--video-size 170x128 --keyint 16 --data-root $DATA/170x128_g16"
LARGE="--keyint 30 --data-root $DATA/340x256_g30"

mkdir -p "$OUT"

step() {  # step NAME COMMAND...
    local name=$1
    shift
    if [ -n "${STEPS:-}" ] && [[ " $STEPS " != *" $name "* ]]; then
        return
    fi
    if [ "${DRY_RUN:-0}" = 1 ]; then
        echo "$name: $*"
        return
    fi
    echo "== $name: $*" >>"$OUT/summary.txt"
    local limit=$STEP_TIMEOUT
    if [ -n "$DEADLINE" ]; then
        local left=$((DEADLINE - SECONDS))
        if [ "$left" -lt 30 ]; then
            echo "   skipped: $left s left of DEADLINE=$DEADLINE" >>"$OUT/summary.txt"
            return
        fi
        # -k 10 below: the kill after the timeout must fit too
        [ $((left - 10)) -lt "$limit" ] && limit=$((left - 10))
    fi
    local start=$SECONDS
    # a hung step (say, a decoder stuck in a worker) must not eat the
    # budget of the ones after it
    timeout -k 10 "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    grep -E 'it/s| vs |busy|waiting for|ms per step|  [0-9.]+ ms  |hwaccel|passed|failed|[0-9] skipped|Error' \
        "$OUT/$name.log" | tail -n 40 >>"$OUT/summary.txt"
    if [ $rc = 124 ]; then
        echo "   timed out after $limit s" >>"$OUT/summary.txt"
    elif [ $rc != 0 ]; then
        tail -n 3 "$OUT/$name.log" | sed 's/^/   | /' >>"$OUT/summary.txt"
    fi
    echo "   rc=$rc, $((SECONDS - start)) s" >>"$OUT/summary.txt"
}

if [ "${DRY_RUN:-0}" != 1 ]; then
    : >"$OUT/summary.txt"
fi
# the repository itself is imported from the working tree, not installed
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if [ -n "${WHEELS:-}" ]; then
    SITE=/tmp/mmavcl_site
    step install_wheels "$PY" -m pip install -q --no-index --no-deps \
        --no-compile --no-cache-dir --upgrade --target $SITE "$WHEELS"/*.whl
    export PYTHONPATH=$SITE:$PYTHONPATH
fi
if [ "${DRY_RUN:-0}" != 1 ]; then
    # NVDEC needs the driver's libnvcuvid in the container
    { nvidia-smi || true; nproc; ldconfig -p | grep -E 'libnvcuvid|libcuda\.so' \
        || echo 'no libnvcuvid/libcuda in ldconfig'; "$PY" -c 'import torch, av, decord, mmengine
print(torch.__version__, av.__version__, decord.__version__, mmengine.__version__)'; } \
        >"$OUT/machine.txt" 2>&1
fi

# issue 25, item 5: the MoCo K400 step (bf16, repeated batch of the
# re-encoded files) with the batched augmentation the configs use, the
# kornia one and the batched one with channels-last: clips/s, the
# augmentation's share of the step (target <= 5 %) and the NCHW<->NHWC
# layout kernels (target ~0); then the augmentation alone, batch 32 a view
AUG="benchmarks/benchmark_train.py $CFG --device cuda --precision bf16 \
--iters 10 --rounds 2 --loader-batches 0 --videos 16 --loader-workers 8 \
$SMALL --profile 10"
step aug_batched env "$PY" $AUG --video-aug-impl batched
step aug_kornia env "$PY" $AUG --video-aug-impl kornia
step aug_batched_channels_last env "$PY" $AUG --video-aug-impl batched --channels-last
step augment_only env "$PY" benchmarks/benchmark_augment.py --device cuda \
    --clips 32 --iters 40
# NVDEC decoding (VideoInit hwaccel='cuda'): the same samples as the CPU
# decoder? Then where its time goes (open, first frame, each further frame:
# on the H200, 2026-12-04, 8 NVDEC workers made 17.7 samples/s where the
# CPU decoder's made ~137) and what it gives a pipeline, in-process
step nvdec_tests env MMAVCL_TEST_CUDA=1 "$PY" -m pytest -m cuda \
    tests/datasets/test_hwaccel.py -q -p no:cacheprovider --timeout 120
step nvdec_pipeline env "$PY" benchmarks/benchmark_pipeline.py \
    --video-hwaccel cuda --pipelines ssl_2clip_av vclr_segments --keyints 30 \
    --iters 16 --no-mmaction --video-dir $DATA/pipeline
# the target row: files as tools/data/reencode_videos.py --short-side 128
# --keyint 16 writes them, bf16, with the step's phases and top operators
step bf16_170x128 env "$PY" $BENCH --precision bf16 $SMALL --profile 10
# Kinetics-size files, decoded by NVDEC and by the CPU
step bf16_340x256_nvdec env "$PY" $BENCH --precision bf16 $LARGE --video-hwaccel cuda
step bf16_340x256 env "$PY" $BENCH --precision bf16 $LARGE
# the rest of the CUDA tests (nvdec_tests ran the NVDEC ones)
step cuda_tests env MMAVCL_TEST_CUDA=1 "$PY" -m pytest -m cuda tests -q \
    -p no:cacheprovider --ignore tests/datasets/test_hwaccel.py
step fp32_170x128 env "$PY" $BENCH --precision fp32 $SMALL
# what torchrun sets for a multi-GPU launch, against the default above
step bf16_170x128_omp1 env OMP_NUM_THREADS=1 "$PY" $BENCH --precision bf16 $SMALL
# their audio read from WAV sidecars
step bf16_340x256_sidecar env "$PY" $BENCH --precision bf16 $LARGE --audio-source sidecar
