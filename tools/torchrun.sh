#!/usr/bin/env bash
# GPUS processes of tools/SCRIPT under torchrun; dist_train.sh and
# dist_test.sh call it. Paths in the arguments are taken from the caller's
# directory (nothing cd's into the checkout), as with MMAction2's scripts.
# Usage: bash tools/torchrun.sh GPUS SCRIPT [SCRIPT args]
# Multi-node: NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500
set -euo pipefail
GPUS=$1
SCRIPT=$2
TOOLS="$(cd "$(dirname "$0")" && pwd)"
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
PYTHONPATH="$(dirname "$TOOLS"):${PYTHONPATH:-}" exec "$PYTHON" \
    -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$TOOLS/$SCRIPT" "${@:3}"
