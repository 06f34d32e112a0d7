# HMDB51 split 2: split 1's pipelines and protocol (bench_hmdb51.py) on the
# official split-2 train/test lists.
_base_ = ['./bench_hmdb51.py']
ann_file_train = 'data/hmdb51/hmdb51_train_split_2_videos.txt'
ann_file_test = 'data/hmdb51/hmdb51_val_split_2_videos.txt'
train_dataloader = dict(dataset=dict(ann_file=ann_file_train))
val_dataloader = dict(dataset=dict(ann_file=ann_file_test))
test_dataloader = dict(dataset=dict(ann_file=ann_file_test))
