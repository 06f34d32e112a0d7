# VGG-Sound audio-visual pretraining: two random 16x2 clips + their audio.
# Layout (tools/data/vggsound/README.md):
#   data/vggsound/videos/<youtube_id>_<start>.mp4
#   data/vggsound/vggsound_train.txt  ("<youtube_id>_<start>.mp4 17")
# Many VGG-Sound files are 10 s with audio; files without audio raise
# MediaDecodeError unless on_missing_audio='silence' (recorded as missing).
_base_ = ['./k400_ssl_2clip_av.py']
data_root = 'data/vggsound'
train_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='vggsound_train.txt',
                 data_prefix=dict(video='videos')))
