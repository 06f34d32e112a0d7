_base_ = ['./vclr_r3d-18_finetune_hmdb51-split1.py']
# The same protocol on HMDB51 split 2.
train_dataloader = dict(dataset=dict(
    ann_file='data/hmdb51/hmdb51_train_split_2_videos.txt'))
val_dataloader = dict(dataset=dict(
    ann_file='data/hmdb51/hmdb51_val_split_2_videos.txt'))
test_dataloader = dict(dataset=dict(
    ann_file='data/hmdb51/hmdb51_val_split_2_videos.txt'))
