# FaceForensics++ (Roessler et al., ICCV 2019), c23 (HQ) compression: 1000
# YouTube originals and their Deepfakes, Face2Face, FaceSwap and
# NeuralTextures manipulations; the official split JSONs (360 / 70 / 70
# pairs: 720 / 140 / 140 originals, and both fakes of every pair per
# manipulation: 2880 / 560 / 560). Real 0, fake 1; accuracy and
# video-level ROC AUC (clip scores averaged per video).
# Layout (the FaceForensics++ download script's) and lists
# (tools/data/build_file_list.py ffpp --src data/ffpp/splits):
#   data/ffpp/original_sequences/youtube/c23/videos/071.mp4
#   data/ffpp/manipulated_sequences/<Method>/c23/videos/071_054.mp4
#   data/ffpp/splits/{train,val,test}.json
#   data/ffpp/ffpp_{train,val,test}_c23.txt
# UCF101's pipelines and loaders (bench_ucf101.py: one random 16x2 clip to
# train, 10 clips x 3 crops to test). mmavcl's choices (unverified against
# GLCL): whole frames (detection papers crop the face first, with a
# detector and an enlarged box; run such a crop offline and point
# data_root at the cropped videos), the 1:4 real:fake imbalance of the
# training list kept.
_base_ = ['./bench_ucf101.py']
data_root = 'data/ffpp'
ann_file_train = 'data/ffpp/ffpp_train_c23.txt'
ann_file_val = 'data/ffpp/ffpp_val_c23.txt'
ann_file_test = 'data/ffpp/ffpp_test_c23.txt'
num_classes = 2
_split = dict(data_prefix=dict(video=data_root), num_classes=num_classes)
train_dataloader = dict(dataset=dict(ann_file=ann_file_train, **_split))
val_dataloader = dict(dataset=dict(ann_file=ann_file_val, **_split))
test_dataloader = dict(dataset=dict(ann_file=ann_file_test, **_split))
val_evaluator = [
    dict(type='AccuracyMetric', topk=(1, ), levels=('video', )),
    dict(type='BinaryAUCMetric', positive_index=1, levels=('video', )),
]
test_evaluator = [
    dict(type='AccuracyMetric', topk=(1, ), levels=('video', 'clip')),
    dict(type='BinaryAUCMetric', positive_index=1,
         levels=('video', 'clip')),
]
