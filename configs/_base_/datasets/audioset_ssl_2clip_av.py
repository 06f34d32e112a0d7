# AudioSet-style lists (multi-label): "<file>.mp4 3 17 240" per line, or a
# JSON list of {"filename": ..., "label": [3, 17, 240]}. Pretraining ignores
# the labels (with_label=False); set with_label=True, multi_label=True and
# num_classes=527 to read them (gt_label holds the class indices).
# Layout: data/audioset/videos/<youtube_id>.mp4, data/audioset/train.txt.
_base_ = ['./k400_ssl_2clip_av.py']
data_root = 'data/audioset'
train_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='audioset_train.txt',
                 data_prefix=dict(video='videos'), multi_label=True,
                 num_classes=527))
