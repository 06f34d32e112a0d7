# UCF101 split 2: split 1's pipelines and protocol (bench_ucf101.py) on the
# official split-2 train/test lists.
_base_ = ['./bench_ucf101.py']
ann_file_train = 'data/ucf101/ucf101_train_split_2_videos.txt'
ann_file_test = 'data/ucf101/ucf101_val_split_2_videos.txt'
train_dataloader = dict(dataset=dict(ann_file=ann_file_train))
val_dataloader = dict(dataset=dict(ann_file=ann_file_test))
test_dataloader = dict(dataset=dict(ann_file=ann_file_test))
