# UCF101 split 3: split 1's pipelines and protocol (bench_ucf101.py) on the
# official split-3 train/test lists.
_base_ = ['./bench_ucf101.py']
ann_file_train = 'data/ucf101/ucf101_train_split_3_videos.txt'
ann_file_test = 'data/ucf101/ucf101_val_split_3_videos.txt'
train_dataloader = dict(dataset=dict(ann_file=ann_file_train))
val_dataloader = dict(dataset=dict(ann_file=ann_file_test))
test_dataloader = dict(dataset=dict(ann_file=ann_file_test))
