#!/usr/bin/env bash
# tools/SCRIPT as a Slurm job step; slurm_train.sh and slurm_test.sh call
# it. Paths in the arguments are taken from the caller's directory.
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#        bash tools/srun.sh PARTITION JOB_NAME SCRIPT [SCRIPT args]
set -x
PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
TOOLS="$(cd "$(dirname "$0")" && pwd)"
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHONPATH="$(dirname "$TOOLS"):${PYTHONPATH:-}" \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    python -u "$TOOLS/$SCRIPT" "${@:4}" --launcher=slurm
