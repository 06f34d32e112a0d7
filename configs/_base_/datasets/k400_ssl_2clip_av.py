# Kinetics-400 self-supervised pretraining: two random 16x2 clips per video
# (MoCo / SimCLR-style positives) and the audio of each clip.
# Layout (MMAction2's, see tools/data/kinetics400/README.md):
#   data/kinetics400/videos_train/<class>/<youtube_id>_<start>_<end>.mp4
#   data/kinetics400/kinetics400_train_list_videos.txt  ("<class>/<file> 12")
# Audio: the container's (audio_source='container'); after
# tools/data/extract_audio.py use audio_source='sidecar' with
# data_prefix=dict(video=..., audio='data/kinetics400/audio_train').
# Photometric augmentation (colour jitter, grayscale, blur) runs batched on
# the device in the model's data preprocessor.
_base_ = ['k400_train.py']

clip_len, frame_interval, crop_size = 16, 2, 112
sample_rate = 16000
# Each clip's audio covers its real span (first frame to last + one frame
# step, from the file's timestamps): 1.28 s at 25 fps, 1.07 s at 30 fps. An
# audio model brings them to one length in its preprocessor
# (audio_cfg num_steps, e.g. 128 = 8 log-mel steps per sampled frame).

train_pipeline = [
    # PyAV rather than decord: it skips the unreferenced frames it will
    # not return (docs/benchmarks.md, "PyAV reader")
    dict(type='VideoInit', backend='pyav',
         decode_short_side=128),
    dict(type='SampleClips', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=2, mode='random', audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=sample_rate,
         on_missing_audio='silence'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.2, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    dataset=dict(pipeline=train_pipeline))
