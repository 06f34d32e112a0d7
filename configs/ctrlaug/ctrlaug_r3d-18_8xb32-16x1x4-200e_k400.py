# CtrlAug (Qian et al., arXiv 2203.16632) [RECON: no official code; every
# setting below except the four ingredients named in the abstract is a
# reconstruction, see configs/ctrlaug/README.md]. R3D-18 at 112x112; a global
# view of 16 frames over the video and 3 local 16-frame clips inside it with
# recorded crop boxes / time spans / flips; MoCo clip contrast (queue 65536,
# tau 0.1), soft region contrast on 2x7x7 cells (tau 0.1), adversarial MI
# minimisation on stage-1 features (weight 0.1), local-global order
# (3! = 6 classes, weight 1); SGD 0.1 / 256, cosine, 200 epochs.
#   bash tools/dist_train.sh \
#       configs/ctrlaug/ctrlaug_r3d-18_8xb32-16x1x4-200e_k400.py 8
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine_200e.py',
    '../_base_/datasets/k400_ctrlaug_global_local.py',
    '../_base_/models/backbone_r3d18.py',
    '../_base_/models/data_preprocessors.py'
]

num_local = 3
feat_channels, low_channels, embed_dim = _base_.r3d18_feat_dim, 64, 128

model = dict(
    type='CtrlAug',
    data_preprocessor=_base_.video_preprocessor,
    # R3D-18 also returning stage 1
    backbone=dict(_base_.r3d18_backbone, out_indices=(0, 3)),
    neck=dict(type='MLPNeck', in_channels=feat_channels,
              hid_channels=feat_channels, out_channels=embed_dim,
              num_layers=2, init_cfg=None),
    region_neck=dict(type='ConvMLPNeck', in_channels=feat_channels,
                     hid_channels=feat_channels, out_channels=embed_dim,
                     num_layers=2, ndim=3, init_cfg=None),
    order_head=dict(type='PretextClsHead',
                    in_channels=(num_local + 1) * feat_channels,
                    num_classes=6, hid_channels=512),
    mi_discriminator=dict(type='PretextClsHead',
                          in_channels=2 * low_channels, num_classes=2,
                          hid_channels=256),
    num_local=num_local,
    loss_clip=dict(type='InfoNCELoss', temperature=0.1,
                   in_batch_negatives=False, loss_weight=1.0),
    loss_region=dict(type='SoftTargetContrastLoss', temperature=0.1,
                     loss_weight=1.0),
    loss_mi=dict(type='CrossEntropyLoss', loss_weight=0.1),
    loss_order=dict(type='CrossEntropyLoss', loss_weight=1.0),
    order_label_key='lg_order',
    mi_estimator='adversarial', grl_lambda=1.0, low_level_index=0,
    queue_len=65536, feat_dim=embed_dim, momentum=0.999, shuffle_bn=True)

model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                         broadcast_buffers=False)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
