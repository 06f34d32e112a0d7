# GLCL on the toy audio-visual set (tools/data/make_toy_dataset.py), sized
# for a 2-core CPU: the paper config's encoder blocks (the released code's)
# on thin pathways (slow 8-64 ch, fast 2-16 ch, alpha 4), 16 frames at 32x32
# and 1 s of 32-bin log-mel, batch 6 per process; same losses as the paper
# config (negatives from each process's own clips) but the L2-normalised,
# tau 0.1 variant [RECON] with the positive pair once in the MIL-NCE
# denominator (the code-faithful form, no normalisation and tau 1, barely
# moves in a few dozen toy iterations). Adam at a constant lr 1e-3.
# Measured: docs/toy_runs.md; tested by
# tests/models/algorithms/test_alg_dist_toy.py.
#   python tools/data/make_toy_dataset.py --out data/toy_av
#   bash tools/dist_train.sh configs/glcl/glcl_r3d-18-2path_toy.py 2
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/adam_10e.py',
    '../_base_/datasets/toy_av.py'
]

clip_len, crop_size, n_mels = 16, 32, 32
train_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=clip_len, frame_interval=1,
         num_clips=1, mode='random', audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=16000, fixed_duration=1.0),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.6, 1.0)),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(batch_size=6, num_workers=0,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

model = dict(
    type='GLCL',
    data_preprocessor=dict(
        type='AVDataPreprocessor', video_aug=None,
        audio_cfg=dict(sample_rate=16000, n_fft=512, win_length=400,
                       hop_length=320, n_mels=n_mels)),
    backbone=dict(type='TwoPathwayResNet3d', depth=18, alpha=4, beta=1 / 4,
                  slow_channels=8),
    audio_backbone=dict(type='AudioResNet1d', depth=18, in_channels=n_mels,
                        base_channels=8),
    slow_proj=dict(type='ConvMLPNeck', in_channels=64, out_channels=64,
                   num_layers=1, ndim=3),
    fast_proj=dict(type='ConvMLPNeck', in_channels=16, out_channels=16,
                   num_layers=1, ndim=3),
    audio_global_proj=dict(type='ConvMLPNeck', in_channels=64,
                           out_channels=64, num_layers=1, ndim=1),
    audio_local_proj=dict(type='ConvMLPNeck', in_channels=64,
                          out_channels=16, num_layers=1, ndim=1),
    # the L2-normalised, tempered variant [RECON]: the code-faithful form
    # (no normalisation, tau 1) barely moves in a few dozen toy iterations
    loss_global=dict(type='MILNCELoss', symmetric=True, normalize=True,
                     temperature=0.1, gather=False),
    loss_local=dict(type='MILNCELoss', symmetric=True, normalize=True,
                    temperature=0.1, gather=False))

optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_cfg = dict(type='AVEpochBasedTrainLoop', max_epochs=10)
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=1, max_keep_ckpts=2))
log_processor = dict(window_size=5)
