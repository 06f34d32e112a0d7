#!/usr/bin/env bash
# Fetch, on a machine with a package index, the wheels an offline GPU machine
# needs to run benchmarks/gpu_report.sh: the packages mmavcl adds to a
# CUDA PyTorch image (torch, torchaudio, numpy, opencv, matplotlib, rich and
# pytest are expected there already), at the versions of
# requirements/constraints.txt, without their dependencies.
#
#   bash benchmarks/gpu_wheels.sh [DEST]   # default .whl (git-ignored)
#
# Environment: PYTHON (python3), TARGET_PYTHON (3.12: the GPU machine's
# Python), DRY_RUN=1 (print the pip command). gpu_report.sh installs DEST
# into a --target folder before its first step when WHEELS=DEST is set.
set -euo pipefail
cd "$(dirname "$0")/.."

DEST=${1:-.whl}
PY=${PYTHON:-python3}
TARGET_PYTHON=${TARGET_PYTHON:-3.12}
NAMES="av decord mmengine mmcv-lite kornia kornia_rs addict yapf termcolor platformdirs"

pins=()
for name in $NAMES; do
    pin=$(grep -i -E "^${name//[-_]/[-_]}==" requirements/constraints.txt) || {
        echo "gpu_wheels.sh: $name is not pinned in requirements/constraints.txt" >&2
        exit 1
    }
    pins+=("$pin")
done

platforms=()
for tag in manylinux_2_28 manylinux_2_17 manylinux2014 manylinux2010 manylinux1; do
    platforms+=(--platform "${tag}_x86_64")
done
cmd=("$PY" -m pip download --no-deps --only-binary=:all: --implementation cp
     --python-version "$TARGET_PYTHON" "${platforms[@]}" -d "$DEST" "${pins[@]}")
if [ "${DRY_RUN:-0}" = 1 ]; then
    echo "${cmd[*]}"
    exit 0
fi
# one version of each name: an offline install stops on two
rm -f "$DEST"/*.whl
"${cmd[@]}"
du -ch "$DEST"/*.whl | tail -n 1
