# The toy sound-localization set (tools/data/make_toy_dataset.py
# --sound-localization): the val videos, every frame with the sounding
# square in view scored (cIoU@0.5, AUC), full 64x64 frames. A leaf config
# sets the encoders of a toy pretraining config and the clips
# (`sound_loc_pipeline`: the pretraining's clip length, enough clips to
# cover each 3 s video).
#   python tools/data/make_toy_dataset.py --out data/toy_soundloc \
#       --sound-localization --num-per-class 24
_base_ = ['./sound_localization.py']
data_root = 'data/toy_soundloc'
sound_loc_list = 'sound_localization_val.json'
sound_loc_pipeline = []  # set by the leaf config
test_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='AVVideoDataset', data_root=data_root,
                 ann_file=sound_loc_list, data_prefix=dict(video=''),
                 audio_source='container', with_label=False,
                 pipeline=sound_loc_pipeline, test_mode=True))
test_evaluator = dict(type='SoundLocalizationMetric',
                      ann_file=f'{data_root}/{sound_loc_list}')
