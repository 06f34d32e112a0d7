# 2D ResNet-50 per frame (TSN; VCLR's paper setting). torchvision keys: load
# MoCo-v2 ImageNet weights with
#   init_cfg=dict(type='Pretrained', checkpoint=..., prefix='module.encoder_q.')
tsn_r50_backbone = dict(type='TSNResNet2d', depth=50)
tsn_r50_feat_dim = 2048
