# Entry point: VCLR pretraining of R3D-18 on Kinetics-400 with 8 GPUs.
#   bash tools/dist_train.sh configs/vclr_r3d_k400.py 8
# The full recipe and its sources: configs/vclr/README.md.
_base_ = ['./vclr/vclr_r3d-18_8xb32-8x2x10-400e_k400.py']
