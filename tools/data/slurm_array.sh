#!/usr/bin/env bash
# Run one of the data tools as one task of a Slurm job array: task I of N
# runs `python TOOL ARGS... --num-parts N --part I`, so N tasks split the
# input into N disjoint parts that together cover it (every N-th entry
# from the I-th on; see mmavcl/utils/data_lists.py). Slurm schedules,
# retries and limits the tasks; this script only maps the task to a part.
#
#   sbatch --array=0-99 [sbatch options] tools/data/slurm_array.sh TOOL [ARGS...]
#
# TOOL: tools/data/{make_shards,reencode_videos,extract_audio,
# check_dataset,build_file_list}.py (relative to the submit directory:
# submit from the repository root). Examples (--array=0-99%20 runs at most
# 20 at a time):
#
#   sbatch --array=0-99 --cpus-per-task=8 tools/data/slurm_array.sh \
#       tools/data/reencode_videos.py s3://bucket/k400/videos data/k400_128 \
#       --ann-file s3://bucket/k400/train.txt --workers 8
#   sbatch --array=0-31 tools/data/slurm_array.sh tools/data/make_shards.py \
#       data/k400/train.txt data/k400/videos data/k400/shards --workers 8
#   # then: python tools/data/make_shards.py --merge-index data/k400/shards
#
# The part count is the array's task count (SLURM_ARRAY_TASK_COUNT), the
# part its index from the first task (SLURM_ARRAY_TASK_ID minus
# SLURM_ARRAY_TASK_MIN); the array must have step 1. PYTHON picks the
# interpreter (default: python). The #SBATCH lines below are defaults that
# sbatch's own options override.
#
#SBATCH --job-name=mmavcl-data
#SBATCH --cpus-per-task=8
#SBATCH --output=slurm-%A_%a.out
set -euo pipefail

usage() {
    # the comment block above, up to the #SBATCH lines
    sed -n '2,/^#SBATCH/p' "$0" | grep -v '^#SBATCH' | sed 's/^# \{0,1\}//'
}

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
    usage
    [[ $# -ge 1 ]] && exit 0 || exit 2
fi
if [[ -z ${SLURM_ARRAY_TASK_ID:-} ]]; then
    echo "slurm_array.sh: SLURM_ARRAY_TASK_ID is not set: submit with" \
        "sbatch --array=0-(N-1) tools/data/slurm_array.sh $*" >&2
    exit 2
fi
for arg in "$@"; do
    if [[ $arg == --num-parts* || $arg == --part || $arg == --part=* ]]; then
        echo "slurm_array.sh: $arg is set from the array; leave it out" >&2
        exit 2
    fi
done
if [[ -n ${SLURM_ARRAY_TASK_STEP:-} && ${SLURM_ARRAY_TASK_STEP} != 1 ]]; then
    echo "slurm_array.sh: the array has step ${SLURM_ARRAY_TASK_STEP};" \
        "parts need consecutive task ids (--array=0-(N-1))" >&2
    exit 2
fi
first=${SLURM_ARRAY_TASK_MIN:-0}
if [[ -n ${SLURM_ARRAY_TASK_COUNT:-} ]]; then
    num_parts=$SLURM_ARRAY_TASK_COUNT
elif [[ -n ${SLURM_ARRAY_TASK_MAX:-} ]]; then
    num_parts=$((SLURM_ARRAY_TASK_MAX - first + 1))
else
    echo "slurm_array.sh: neither SLURM_ARRAY_TASK_COUNT nor" \
        "SLURM_ARRAY_TASK_MAX is set: how many parts?" >&2
    exit 2
fi
part=$((SLURM_ARRAY_TASK_ID - first))
tool=$1
shift
cmd=("${PYTHON:-python}" "$tool" "$@" --num-parts "$num_parts" --part "$part")
echo "slurm_array.sh: task $part of $num_parts: ${cmd[*]}" >&2
exec "${cmd[@]}"
