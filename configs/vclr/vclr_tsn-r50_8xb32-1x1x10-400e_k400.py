# VCLR, the paper's setting [CODE amazon-science/video-contrastive-learning
# @4fb66c3]: a 2D ResNet-50 on single frames (TSN), initialised from MoCo-v2
# 200-epoch ImageNet weights (trunk -> backbone, MoCo's MLP -> all four
# heads); K=3 segments on the 30 fps grid of the first 10 s at 340x256, one
# frame per segment; views [a+, q1..q3, k1..k3] with a, p2, p3 taken from
# the query tuple; four losses with weight 1; two 131072 x 128 queues;
# momentum 0.999 with BN in train mode; shuffle-BN; tau 0.1; SGD lr
# 0.1 x global batch / 256 (auto_scale_lr), 5-epoch warm-up, cosine to
# 1e-6, 400 epochs. Every value and its source: configs/vclr/README.md.
#   python tools/convert/moco_to_vclr.py \
#       checkpoints/moco_v2_200ep_pretrain.pth.tar \
#       checkpoints/vclr_tsn-r50_init_moco-v2-200ep.pth
#   bash tools/dist_train.sh \
#       configs/vclr/vclr_tsn-r50_8xb32-1x1x10-400e_k400.py 8
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine_400e.py',
    '../_base_/datasets/k400_vclr_segments.py',
    '../_base_/models/backbone_tsn_r50.py',
    '../_base_/models/data_preprocessors.py'
]

num_segments = 3
feat_channels, embed_dim = _base_.tsn_r50_feat_dim, 128
# MoCo-v2 (200 epochs, ImageNet) weights from the MoCo repository, turned
# by tools/convert/moco_to_vclr.py into VCLR keys: encoder_q's trunk ->
# backbone, encoder_q's fc.{0,2} -> each of the four heads, as the official
# load_pretrained does [CODE utils/util.py]. The momentum encoder starts as
# a copy of all of it (its first update copies the online model).
pretrained = 'checkpoints/vclr_tsn-r50_init_moco-v2-200ep.pth'

# Linear-ReLU-Linear without BN and with PyTorch's default init [CODE Head]
mlp_head = dict(type='MLPNeck', in_channels=feat_channels,
                hid_channels=feat_channels, out_channels=embed_dim,
                num_layers=2, norm_cfg=None, init_cfg=None)

model = dict(
    type='VCLR',
    init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    # colour jitter, grayscale and a 23 px blur, drawn independently per
    # view [CODE utils/util.py get_loader]
    data_preprocessor=dict(_base_.video_preprocessor,
                           video_aug=_base_.color_aug + [_base_.blur_224]),
    backbone=_base_.tsn_r50_backbone,
    inter_neck=mlp_head, intra_neck=mlp_head, segment_neck=mlp_head,
    order_neck=mlp_head,
    # Linear(2 * K * 128 = 768 -> 4) on [o_q; o_k] [CODE fc_order_classifier]
    order_head=dict(type='PretextClsHead',
                    in_channels=2 * num_segments * embed_dim, num_classes=4,
                    init_cfg=None),
    num_segments=num_segments, feat_dim=embed_dim,
    loss_inter=dict(type='InfoNCELoss', temperature=0.1,
                    in_batch_negatives=False, normalize=False,
                    loss_weight=1.0),
    loss_intra=dict(type='CrossEntropyLoss', loss_weight=1.0),
    loss_segment=dict(type='InfoNCELoss', temperature=0.1,
                      in_batch_negatives=False, normalize=False,
                      loss_weight=1.0),
    loss_order=dict(type='CrossEntropyLoss', loss_weight=1.0),
    intra_temperature=0.1, queue_len=131072, queue_init='uniform',
    momentum=0.999, shuffle_bn=True, order_normalize='segments',
    # a, p2, p3 are the query tuple's views (SampleSegments reuse_query)
    reuse_query_views=True)

# per-GPU BN (shuffle-BN relies on it); DDP without buffer broadcast [CODE]
model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                         broadcast_buffers=False)
# lr = 0.1 x global batch / 256 [CODE train_vclr.py]: 0.1 at 8 x 32
auto_scale_lr = dict(enable=True, base_batch_size=256)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
