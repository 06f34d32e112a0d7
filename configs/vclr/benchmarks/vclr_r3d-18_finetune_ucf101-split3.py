_base_ = ['./vclr_r3d-18_finetune_ucf101-split1.py']
# The same protocol on UCF101 split 3.
train_dataloader = dict(dataset=dict(
    ann_file='data/ucf101/ucf101_train_split_3_videos.txt'))
val_dataloader = dict(dataset=dict(
    ann_file='data/ucf101/ucf101_val_split_3_videos.txt'))
test_dataloader = dict(dataset=dict(
    ann_file='data/ucf101/ucf101_val_split_3_videos.txt'))
