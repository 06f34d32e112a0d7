_base_ = ['./vclr_tsn-r50_linear_ucf101-split1.py']
# The same protocol on UCF101 split 2.
train_dataloader = dict(dataset=dict(
    ann_file='data/ucf101/ucf101_train_split_2_videos.txt'))
val_dataloader = dict(dataset=dict(
    ann_file='data/ucf101/ucf101_val_split_2_videos.txt'))
test_dataloader = dict(dataset=dict(
    ann_file='data/ucf101/ucf101_val_split_2_videos.txt'))
