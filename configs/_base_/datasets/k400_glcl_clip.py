# Kinetics-400 for GLCL (METHODS.md s2) as released [CODE yunyikristy/
# global_local@75c3c89]: one 32-frame clip from frame 0 at 112x112, no
# augmentation, and the audio of the clip's real span (first frame to last
# + 1/fps); the model's preprocessor turns it into 3 log-mel steps per
# frame. Sources: configs/glcl/README.md.
_base_ = ['k400_train.py']

clip_len, crop_size, sample_rate = 32, 112, 16000

train_pipeline = [
    # PyAV rather than decord: it skips the unreferenced frames it will
    # not return (docs/benchmarks.md, "PyAV reader")
    dict(type='VideoInit', backend='pyav',
         decode_short_side=crop_size),
    dict(type='SampleClips', clip_len=clip_len, frame_interval=1,
         num_clips=1, mode='fixed', start_frame=0, audio=True),
    dict(type='DecodeVideoViews'),
    # the audio of the clip's real span (first frame to last + 1/fps)
    dict(type='DecodeAudioViews', sample_rate=sample_rate,
         on_missing_audio='silence'),
    dict(type='CenterCropViews', size=crop_size),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    dataset=dict(pipeline=train_pipeline))
