# VGG-SS sound-localization test set (Chen et al., "Localizing Visual Sounds
# the Hard Way", CVPR 2021): about 5k VGG-Sound test videos with boxes on
# their middle frame. Layout (the videos are VGG-Sound's):
#   data/vggsound/videos/<ytid>_<start>.mp4
#   data/vggss/sound_localization_test.json
# Same annotation list as Flickr-SoundNet
# (configs/_base_/datasets/bench_flickr_soundnet_sound_localization.py):
#   {"data_list": [{"filename": "<ytid>_<start>.mp4",
#                   "frames": {"<middle frame>": [[[x1, y1, x2, y2], ...]]}}]}
# one annotator whose boxes are the released `bbox` list (already
# normalised to [0, 1]), at the index of the middle frame (5 s x fps of the
# 10 s clip), made from LVS's metadata/vggss.json by
#   python tools/data/build_file_list.py vggss --src data/vggss/vggss.json \
#       --clip-boxes --videos data/vggsound/videos --out-dir data/vggss
# (--clip-boxes: the released file has corners outside [0, 1], clipped as
# the public evaluation code does; missing videos are skipped and listed
# in data/vggss/missing_videos.txt). The clip protocol (16 frames centred,
# 224x224) is mmavcl's.
_base_ = ['./bench_flickr_soundnet_sound_localization.py']
sound_loc_list = 'data/vggss/sound_localization_test.json'
test_dataloader = dict(dataset=dict(
    ann_file=sound_loc_list, data_prefix=dict(video='data/vggsound/videos')))
# one annotation per frame: 1 inside any of its boxes
test_evaluator = dict(ann_file=sound_loc_list, gt_consensus='union')
