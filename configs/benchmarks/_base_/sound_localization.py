# Sound-source localization (issue #24): per-frame cosine maps between a
# frozen audio-visual model's clip audio embedding and its video features
# before global pooling (SoundLocalizer, mmavcl/models/recognizers/
# sound_localizer.py), resized to the frames and scored against annotated
# boxes by cIoU@0.5 and AUC (SoundLocalizationMetric with ann_file). No
# training: the whole pretraining checkpoint is loaded, its module names
# mapped by `checkpoint_prefixes` (a missing key is an error):
#   python tools/test.py $CFG work_dirs/<pretraining run>/epoch_N.pth
# A leaf config adds the dataset (test_dataloader, the metric's ann_file)
# and the method's encoders (configs/benchmarks/_base_/
# sound_localization_models.py).
_base_ = ['../../_base_/default_runtime.py']
model = dict(
    type='SoundLocalizer',
    backbone=dict(),        # set by the leaf config
    audio_backbone=dict(),  # set by the leaf config
    video_stage=-1,  # projections: set by the leaf config (none: raw maps)
    checkpoint_prefixes=dict(),
    data_preprocessor=dict(type='AVDataPreprocessor', video_aug=None))
train_dataloader = train_cfg = optim_wrapper = None
val_dataloader = val_cfg = val_evaluator = None
test_cfg = dict(type='TestLoop')
