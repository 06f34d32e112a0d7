# Kinetics-400 linear evaluation: train on K400 train, test on val.
# Layout: data/kinetics400/videos_{train,val}/ and the lists
# data/kinetics400/kinetics400_{train,val}_list_videos.txt (MMAction2's).
_base_ = ['./bench_ucf101.py']
data_root = 'data/kinetics400/videos_train'
data_root_val = 'data/kinetics400/videos_val'
num_classes = 400
train_dataloader = dict(dataset=dict(
    ann_file='data/kinetics400/kinetics400_train_list_videos.txt',
    data_prefix=dict(video=data_root), num_classes=num_classes))
val_dataloader = dict(dataset=dict(
    ann_file='data/kinetics400/kinetics400_val_list_videos.txt',
    data_prefix=dict(video=data_root_val), num_classes=num_classes))
# the same videos; merged into UCF101's test loader (its 30-view pipeline)
test_dataloader = val_dataloader
