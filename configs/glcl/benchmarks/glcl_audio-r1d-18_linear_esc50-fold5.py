_base_ = ['./glcl_audio-r1d-18_linear_esc50-fold1.py']
# ESC-50 linear probe, test fold 5 (train on the other folds).
train_dataloader = dict(dataset=dict(
    ann_file='data/esc50/esc50_train_fold5.txt'))
val_dataloader = dict(dataset=dict(
    ann_file='data/esc50/esc50_test_fold5.txt'))
test_dataloader = val_dataloader
