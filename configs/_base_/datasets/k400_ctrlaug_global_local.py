# Kinetics-400 for CtrlAug-style global/local views (METHODS.md s3, RECON):
# a global view of 16 frames spread over the whole video and local clips of
# 16 consecutive frames (stride 1 or 2) inside it. Every crop box (source
# pixels), flip and time span is recorded in view_meta for the soft region
# contrast. num_local=3 with shuffle_local=True adds the local-global order
# label 'lg_order' (3! = 6 classes); 'lg_bin' is always there.
_base_ = ['k400_train.py']

crop_size = 112
num_local = 3

train_pipeline = [
    # PyAV rather than decord: it skips the unreferenced frames it will
    # not return (docs/benchmarks.md, "PyAV reader")
    dict(type='VideoInit', backend='pyav',
         decode_short_side=128),
    dict(type='SampleGlobalLocal', global_len=16, global_mode='random',
         num_local=num_local, local_len=16, local_interval=(1, 2),
         local_overlap=None, local_in_global=True, shuffle_local=True,
         num_bins=4),
    dict(type='DecodeVideoViews'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.2, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    dataset=dict(audio_source='none', pipeline=train_pipeline))
