#!/usr/bin/env bash
# Usage: bash tools/dist_train.sh CONFIG GPUS [train.py args]
# Multi-node: NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/dist_train.sh ...
# Without CUDA it runs GPUS CPU processes over gloo.
set -euo pipefail
exec bash "$(dirname "$0")/torchrun.sh" "$2" train.py "$1" --launcher pytorch \
    "${@:3}"
