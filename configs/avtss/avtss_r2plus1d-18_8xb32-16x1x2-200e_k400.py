# AVTSS (Jenni, Black, Collomosse, AAAI 2023) [RECON: no official code; the
# abstract fixes the ingredients, everything else is a reconstruction, see
# configs/avtss/README.md]. R(2+1)D-18 on two 16-frame clips at 112x112, each
# with a random speed (x1/2/4/8) and direction and the audio of its span
# (time-compressed / reversed alike) as 128-bin log-mel for a 2D ResNet-18;
# v<->v and v<->a MoCo contrast (queues 65536, tau 0.1) with top-5 queue
# neighbours as extra positives and 16 synthesised hard negatives per query;
# speed, direction and order heads (lambda 1); SGD 0.1 / 256, cosine, 200 ep.
#   bash tools/dist_train.sh \
#       configs/avtss/avtss_r2plus1d-18_8xb32-16x1x2-200e_k400.py 8
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine_200e.py',
    '../_base_/datasets/k400_avtss_pairs.py',
    '../_base_/models/backbone_r2plus1d18.py',
    '../_base_/models/backbone_audio_resnet2d18.py',
    '../_base_/models/data_preprocessors.py'
]

feat_channels, embed_dim = 512, 128
speeds = (1, 2, 4, 8)

# MLP heads on pooled backbone features (hidden 512) [RECON]
head = dict(type='PretextClsHead', hid_channels=512)
# MoCo-form InfoNCE of the v<->v and v<->a contrasts [RECON]
nce = dict(type='InfoNCELoss', temperature=0.1, in_batch_negatives=False)

model = dict(
    type='AVTSS',
    data_preprocessor=dict(
        _base_.video_preprocessor,
        # each clip's log-mel cut to its own span (16 frames / fps x speed,
        # time-compressed by the speed) and resized to 4 steps per frame
        audio_cfg=dict(_base_.log_mel_128, num_steps=64),
        spec_augment=dict(freq_mask=24, time_mask=12, num_masks=1)),
    backbone=_base_.r2plus1d18_backbone,
    neck=dict(type='MLPNeck', in_channels=feat_channels,
              hid_channels=feat_channels, out_channels=embed_dim,
              num_layers=2, init_cfg=None),
    audio_backbone=_base_.audio_r2d18_backbone,
    audio_neck=dict(type='MLPNeck', in_channels=feat_channels,
                    hid_channels=feat_channels, out_channels=embed_dim,
                    num_layers=2, init_cfg=None),
    speed_head=dict(head, in_channels=feat_channels,
                    num_classes=len(speeds)),
    direction_head=dict(head, in_channels=feat_channels, num_classes=2),
    audio_speed_head=dict(head, in_channels=feat_channels,
                          num_classes=len(speeds)),
    audio_direction_head=dict(head, in_channels=feat_channels,
                              num_classes=2),
    order_vv_head=dict(head, in_channels=2 * feat_channels,
                       num_classes=3),
    order_aa_head=dict(head, in_channels=2 * feat_channels,
                       num_classes=3),
    order_va_head=dict(head, in_channels=2 * feat_channels,
                       num_classes=3),
    # weights lambda_vv, lambda_va and lambda (every temporal head)
    loss_vv=dict(nce, loss_weight=1.0),
    loss_va=dict(nce, loss_weight=1.0),
    loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
    # each query's 16 synthetic negatives are its own (issue #20)
    num_neighbours=5, num_hard_negatives=16, hard_negative_pool=64,
    hard_negative_scope='query',
    queue_len=65536, feat_dim=embed_dim, momentum=0.999, shuffle_bn=True)

model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                         broadcast_buffers=False)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
