# Kinetics-400 for AVTSS-style temporal self-supervision (METHODS.md s4,
# RECON): two 16-frame clips per video, each at a random speed (frame skip
# 1/2/4/8) and direction, and two audio clips time-compressed by the same
# speeds and reversed with them: audio 0 covers clip 0's real span (its
# corresponding audio), audio 1 is placed on its own, so clip 1 vs audio 1
# is an inter-modal order label of its own. The three order labels are
# drawn jointly over the combinations the spans allow; a sample whose
# video is too short for some combination has its order labels masked
# (-1) rather than always labelled 'overlap'. Labels: speed_v{i},
# direction_v{i}, speed_a{i}, direction_a{i}, order_vv, order_aa,
# order_va, order_av.
_base_ = ['k400_train.py']

clip_len, crop_size, sample_rate = 16, 112, 16000
# Audio spans follow the decoded frames (16 frames: 0.64 s x speed at 25 fps,
# 0.53 s x speed at 30 fps); the model's preprocessor resizes every clip's
# log-mel to 4 steps per frame (audio_cfg num_steps=64).

train_pipeline = [
    # PyAV rather than decord: it skips the unreferenced frames it will
    # not return (docs/benchmarks.md, "PyAV reader")
    dict(type='VideoInit', backend='pyav',
         decode_short_side=128),
    dict(type='SampleTemporalPairs', clip_len=clip_len, num_clips=2,
         speeds=(1, 2, 4, 8), reverse_prob=0.5,
         relation_probs=(1 / 3, 1 / 3, 1 / 3), audio=True,
         audio_transform='same'),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=sample_rate,
         on_missing_audio='silence'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.2, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    dataset=dict(pipeline=train_pipeline))
