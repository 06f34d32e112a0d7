# Audio-visual event localization (AVE protocol): frozen video and audio
# encoders give one feature per one-second segment, a one-layer BiLSTM over
# the 10 segments labels each (28 categories + background), trained with
# cross-entropy per segment; segment accuracy. Like the linear probe, the
# head is trained first, with the pretraining checkpoint:
#   python tools/train.py $CFG --cfg-options model.pretrained=PRE.pth
#   python tools/test.py $CFG work_dirs/<cfg>/best_*.pth
# A leaf config adds the dataset (num_classes, evaluators) and the encoders
# (backbone, audio_backbone if any, head in_channels, audio_cfg).
_base_ = ['../../_base_/schedules/bench_event_30e.py']
model = dict(
    type='AVEventLocalizer',
    backbone=dict(),  # set by the leaf config
    head=dict(type='TemporalSegmentHead', num_classes=29, in_channels=512,
              hidden_channels=128, temporal='bilstm', dropout_ratio=0.1),
    frozen=True,
    pretrained=None,
    pretrained_prefix='backbone.',
    audio_pretrained_prefix='audio_backbone.',
    data_preprocessor=dict(type='AVDataPreprocessor'),
    # 10 segment clips of a video per backbone call (x batch)
    test_cfg=dict(max_testing_views=40))
