default_scope = 'mmavcl'
# Scope-prefixed: MMAction2's tools/train.py and test.py (and so
# `mim train/test mmaction2`) build the runner from their own registry
# before any default scope is set, where a bare 'AVRunner' is not found;
# the prefix makes mmengine import mmavcl.registry and find it
# (tests/tools/test_openmmlab_tools.py).
runner_type = 'mmavcl.AVRunner'

# Every hook that runs is named here (AVRunner swaps no type). The mmavcl
# ones: SafeCheckpointHook is mmengine's CheckpointHook (same arguments)
# that writes the new checkpoint before pruning old ones and saves every
# rank's resume state; ValRNGGuardHook restores the training RNG states
# after each validation. Both are what exact resume and crash-safe
# checkpoints rest on (docs/reliability.md); a config naming mmengine's
# CheckpointHook gets it, with a warning. SafeLoggerHook is mmengine's
# LoggerHook (same arguments) whose upload to an out_dir keeps each run's
# log dir name in the keys (<out_dir>/<work dir name>/<timestamp>/...), so
# a resumed or later run does not overwrite the vis_data/scalars.json and
# config an earlier one uploaded. `tools/train.py --compile` adds
# default_hooks.compile=dict(type='TorchCompileHook', backend=...).
default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='SafeLoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=3,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    val_rng_guard=dict(type='ValRNGGuardHook'),
    # On by default: one NaN/Inf audio or video sample otherwise turns every
    # weight NaN, the run exits 0 and a NaN checkpoint replaces the last
    # good one. 'stop' refuses that step, names the batch's files and keeps
    # the last checkpoint (docs/reliability.md, "Non-finite losses"). It
    # does the same for a NaN/Inf gradient norm under a finite loss, checked
    # before the step (max_grad_norm=... adds a threshold; none by default,
    # the right one is model-specific), and for a finite norm above 1000x
    # the median of the last 100 applied steps, checked from the 21st
    # step: a spike relative to the run's own history, which needs no
    # scale. In normal toy training of every method the largest norm was
    # at most 3.1x that median (docs/reliability.md, "Gradient spikes";
    # max_grad_norm_ratio=None turns it off). A dict
    # key, not a custom_hooks item: configs merge dicts on inheritance but
    # replace lists, so every config keeps it. Change it with
    # default_hooks=dict(nonfinite_guard=dict(action='skip')), remove it
    # with default_hooks=dict(nonfinite_guard=None); a guard in
    # custom_hooks is merged into this one (the keys it names win, the
    # others stay as here; one guard runs).
    nonfinite_guard=dict(type='NonFiniteLossGuardHook', action='stop',
                         max_grad_norm_ratio=1000),
    # On by default: the bad files a 'skip' dataset replaced and the audio
    # sidecars without an alignment record are met in DataLoader workers
    # on every rank, and only rank 0 logs anywhere; this hook gathers them
    # over the ranks and names each once on rank 0 (work_dir/
    # bad_samples.json, <log_dir>/sidecars_without_alignment.txt), and
    # applies max_bad_ratio to all ranks' counts (docs/reliability.md,
    # "Bad media and annotations"). Keyed as nonfinite_guard is;
    # default_hooks=dict(data_report=None) removes it, one in custom_hooks
    # takes over from it.
    data_report=dict(type='DataReportHook'),
)

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

vis_backends = [dict(type='LocalVisBackend')]
# TensorBoard / W&B in place of the local JSON from the command line
# (--cfg-options can only replace list items, not append):
#   --cfg-options visualizer.vis_backends.0.type=TensorboardVisBackend
#   --cfg-options visualizer.vis_backends.0.type=WandbVisBackend
# or several at once in a config, see docs/config.md "Logging backends".
visualizer = dict(type='Visualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, diff_rank_seed=False, deterministic=False)
