# ESC-50 with fold 2 as the test fold (train on the other four folds).
_base_ = ['./bench_esc50.py']
fold = 2
ann_file_train = f'data/esc50/esc50_train_fold{fold}.txt'
ann_file_test = f'data/esc50/esc50_test_fold{fold}.txt'
train_dataloader = dict(dataset=dict(ann_file=ann_file_train))
val_dataloader = dict(dataset=dict(ann_file=ann_file_test))
test_dataloader = val_dataloader
