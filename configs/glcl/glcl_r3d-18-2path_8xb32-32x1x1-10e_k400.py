# GLCL (Ma et al., NeurIPS 2021) as released [CODE yunyikristy/global_local
# @75c3c89]: a 32-frame clip from frame 0 at 112x112 (no augmentation), two
# ResNet-18 pathways of the code's block (one 3x3x3 + one 1x1x1 conv) without
# lateral connections (slow: every 8th frame, 64-512 ch, 15.26M params; fast:
# all frames, 8-64 ch, 0.24M), a 1D ResNet-18 over 80 log-mel bins,
# 1x1 projections (512->512, 512->512, 512->64, 64->64), symmetric MIL-NCE
# without temperature or L2 normalisation, negatives from the 32 clips of
# each GPU (no gathering), weights 1, Adam 1e-4, 10 epochs. The GPU count
# and everything about the paper's own protocol are unknown [RECON].
# Sources and the fidelity table: configs/glcl/README.md.
#   bash tools/dist_train.sh \
#       configs/glcl/glcl_r3d-18-2path_8xb32-32x1x1-10e_k400.py 8
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/adam_10e.py',
    '../_base_/datasets/k400_glcl_clip.py',
    '../_base_/models/backbone_glcl.py'
]

# the data (clip, audio, pipeline, loader): k400_glcl_clip.py
clip_len, sample_rate = _base_.clip_len, _base_.sample_rate
n_mels = 80
# The code's audio time axis [CODE dataset.py]: the clip's log-mel, cut to
# the 32 frames' span, resized to 96 = 3 x 32 steps (nearest), so each
# frame's local bag is exactly the 3 steps of its own time, at any fps.
audio_steps_per_frame = 3

model = dict(
    type='GLCL',
    data_preprocessor=dict(
        type='AVDataPreprocessor',
        mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375),
        video_aug=None,
        # [RECON] 16 kHz, 25 ms window, 10 ms hop (107-128 steps for 32
        # frames at 30-25 fps), each clip cut to its own samples and
        # resized to 96 steps with nearest interpolation [CODE dataset.py]
        audio_cfg=dict(sample_rate=sample_rate, n_fft=512, win_length=400,
                       hop_length=160, n_mels=n_mels,
                       num_steps=audio_steps_per_frame * clip_len)),
    # the released encoders (the snippet says what each setting is):
    # block_layout='glcl', the code's BasicBlock_SF ('mmaction2' is our
    # two-conv variant, README); the code's resnet1d.py over n_mels = 80
    backbone=_base_.glcl_video_backbone,
    audio_backbone=_base_.glcl_audio_backbone,
    slow_proj=dict(type='ConvMLPNeck', in_channels=512, out_channels=512,
                   num_layers=1, ndim=3),
    fast_proj=dict(type='ConvMLPNeck', in_channels=64, out_channels=64,
                   num_layers=1, ndim=3),
    audio_global_proj=dict(type='ConvMLPNeck', in_channels=512,
                           out_channels=512, num_layers=1, ndim=1),
    audio_local_proj=dict(type='ConvMLPNeck', in_channels=512,
                          out_channels=64, num_layers=1, ndim=1),
    # off = code-faithful; variant: temperature=0.07, normalize=True [RECON].
    # 'twice' = code-faithful: the code's LSE over cat(dot, dot.T) holds the
    # positive pair once per direction; 'once' is MILNCELoss's default.
    # gather=False = code-faithful: each GPU contrasts its own 32 clips
    # (1,024 local anchors); gather=True uses all GPUs' clips as negatives
    # (256 clips, 8,192 local anchors on 8 GPUs).
    loss_global=dict(type='MILNCELoss', temperature=1.0, normalize=False,
                     symmetric=True, positive_in_denominator='twice',
                     gather=False, loss_weight=1.0),
    loss_local=dict(type='MILNCELoss', temperature=1.0, normalize=False,
                    symmetric=True, positive_in_denominator='twice',
                    gather=False, loss_weight=1.0),
    local_window=None, detach_attention=False)

randomness = dict(seed=2021)  # [CODE pretrain.py]
auto_scale_lr = dict(enable=False, base_batch_size=256)
