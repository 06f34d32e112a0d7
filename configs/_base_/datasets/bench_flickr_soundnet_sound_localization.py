# Flickr-SoundNet sound-localization test set (Senocak et al., CVPR 2018;
# the 250 annotated pairs of the cIoU protocol, and LVS's (Chen et al., CVPR
# 2021) "Flickr-SoundNet test"). Layout:
#   data/flickr_soundnet/videos/<id>.mp4    the Flickr videos (with audio)
#   data/flickr_soundnet/sound_localization_test.json
# The annotation list (read by the dataset and by SoundLocalizationMetric,
# mmavcl/evaluation/metrics/sound_localization.py):
#   {"metainfo": {...}, "data_list": [
#      {"filename": "<id>.mp4",
#       "frames": {"<frame index>": [[[x1, y1, x2, y2], ...],   # annotator 1
#                                    [[x1, y1, x2, y2]], ...]}}]} # annotator 2..
# one entry per annotated frame (its index among the video's displayed
# frames), one list of boxes per annotator (three on Flickr-SoundNet), the
# corners normalised by the frame's width and height. The released
# annotations are one XML file per image with pixel boxes per annotator
# (on a 256x256 grid, as the public evaluation code reads them, unless the
# XML gives a <size>): divided by the image size, at the video's middle
# frame, by
#   python tools/data/build_file_list.py flickr_soundnet \
#       --src data/flickr_soundnet/Annotations \
#       --ids data/flickr_soundnet/test_list.txt \
#       --videos data/flickr_soundnet/videos --out-dir data/flickr_soundnet
# (docs/evaluation.md, "Sound-source localization"). The ground-truth map is
# Flickr-SoundNet's consensus as its public evaluation code computes it:
# min(n / 2, 1), n the number of boxes (all annotators) holding the pixel
# (gt_consensus='flickr'; VGG-SS: 'union').
# Clip: 16 frames centred in the video (the frame nearest to the annotated
# one is scored), its audio, frames resized to 224x224 as in the protocol.
sound_loc_root = 'data/flickr_soundnet'
sound_loc_list = f'{sound_loc_root}/sound_localization_test.json'
sound_loc_pipeline = [
    dict(type='VideoInit'),
    dict(type='SampleClips', clip_len=16, frame_interval=1, num_clips=1,
         mode='uniform', audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=16000,
         on_missing_audio='silence'),
    dict(type='ResizeViews', scale=(224, 224)),
    dict(type='PackAVInputs'),
]
test_dataloader = dict(
    batch_size=4, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='AVVideoDataset', ann_file=sound_loc_list,
                 data_prefix=dict(video=f'{sound_loc_root}/videos'),
                 audio_source='container', with_label=False,
                 pipeline=sound_loc_pipeline, test_mode=True))
test_evaluator = dict(type='SoundLocalizationMetric', ann_file=sound_loc_list,
                      gt_consensus='flickr')
