# HMDB51 split-1 video retrieval: UCF101's protocol and features
# (bench_ucf101_retrieval.py) on HMDB51's lists; split-1 test videos query
# the split-1 train videos.
_base_ = ['./bench_ucf101_retrieval.py']
data_root = 'data/hmdb51/videos'
ann_file_train = 'data/hmdb51/hmdb51_train_split_1_videos.txt'
ann_file_test = 'data/hmdb51/hmdb51_val_split_1_videos.txt'
num_classes = 51
_split = dict(data_prefix=dict(video=data_root), num_classes=num_classes)
gallery_dataloader = dict(dataset=dict(ann_file=ann_file_train, **_split))
test_dataloader = dict(dataset=dict(ann_file=ann_file_test, **_split))
