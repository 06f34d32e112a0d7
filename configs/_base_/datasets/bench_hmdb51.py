# HMDB51 split 1, downstream classification (linear probe / fine-tune):
# UCF101's pipelines and protocol (bench_ucf101.py) on HMDB51's lists.
# Layout (MMAction2's): data/hmdb51/videos/<Class>/<name>.avi and the lists
# data/hmdb51/hmdb51_{train,val}_split_{1,2,3}_videos.txt ("class/x.avi 12").
_base_ = ['./bench_ucf101.py']
data_root = 'data/hmdb51/videos'
ann_file_train = 'data/hmdb51/hmdb51_train_split_1_videos.txt'
ann_file_test = 'data/hmdb51/hmdb51_val_split_1_videos.txt'
num_classes = 51
_split = dict(data_prefix=dict(video=data_root), num_classes=num_classes)
train_dataloader = dict(dataset=dict(ann_file=ann_file_train, **_split))
val_dataloader = dict(dataset=dict(ann_file=ann_file_test, **_split))
test_dataloader = dict(dataset=dict(ann_file=ann_file_test, **_split))
