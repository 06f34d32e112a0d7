"""OnlineKNNHook inside a real mmengine Runner: it logs every epoch and its
number equals a loop-based kNN on the backbone's features."""
import math

import numpy as np
import torch
from mmengine.model import BaseDataPreprocessor, BaseModel
from torch.utils.data import Dataset

from mmavcl.engine import AVRunner
from mmavcl.models.backbones import ResNet3d
from mmavcl.registry import DATASETS, MODELS
from mmavcl.structures import AVDataSample

TINY = dict(depth=18, base_channels=4, num_stages=1, out_indices=(0, ),
            stage_blocks=(1, ), conv1_kernel=(3, 3, 3), with_pool2=False)


@DATASETS.register_module(name='_KNNClips', force=True)
class _KNNClips(Dataset):
    """Labelled clips whose mean colour depends on the class, 2 views."""

    def __init__(self, n=12, num_classes=3, seed=0):
        rng = np.random.default_rng(seed)
        self.labels = np.arange(n) % num_classes
        self.clips = [
            torch.from_numpy(
                rng.normal(self.labels[i], 1.0, (2, 3, 4, 8, 8)).astype(
                    np.float32)) for i in range(n)
        ]

    def __len__(self):
        return len(self.clips)

    def __getitem__(self, i):
        s = AVDataSample(metainfo=dict(video_id=f'v{i}.mp4'))
        s.set_gt_label(int(self.labels[i]))
        return dict(inputs=dict(video=list(self.clips[i])), data_samples=s)


@MODELS.register_module(name='_StackViews', force=True)
class _StackViews(BaseDataPreprocessor):
    """Stand-in for AVDataPreprocessor: stack each view's samples (on the
    model's device)."""

    def forward(self, data, training=False):
        views = [
            self.cast_data(torch.stack(v)) for v in data['inputs']['video']
        ]
        return dict(inputs=dict(video=views),
                    data_samples=data['data_samples'])


@MODELS.register_module(name='_ToySSL', force=True)
class _ToySSL(BaseModel):

    def __init__(self):
        super().__init__(data_preprocessor=dict(type='_StackViews'))
        self.backbone = ResNet3d(**TINY)
        self.seen_training = []

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.seen_training.append(self.training)
        a, b = (self.backbone(v).flatten(2).mean(2) for v in inputs['video'])
        return dict(loss=((a - b)**2).mean() - a.std(0).mean())


def _loader(shuffle=False):
    return dict(batch_size=4, num_workers=0,
                sampler=dict(type='DefaultSampler', shuffle=shuffle),
                dataset=dict(type='_KNNClips'))


def _ref_knn(feats, labels, ids, k, t):
    """Leave-one-video-out weighted kNN, one loop per query."""
    hits = 0
    for i in range(len(feats)):
        sims = []
        for j in range(len(feats)):
            if ids[j] == ids[i]:
                continue
            c = float(feats[i] @ feats[j] /
                      (np.linalg.norm(feats[i]) * np.linalg.norm(feats[j])))
            sims.append((-c, j))
        sims.sort()
        votes = {}
        for negc, j in sims[:k]:
            votes[labels[j]] = votes.get(labels[j], 0.0) + math.exp(-negc / t)
        best = votes.get(labels[i], 0.0)
        hits += all(v < best for c, v in votes.items() if c != labels[i]) \
            and best > 0
    return 100.0 * hits / len(feats)


def test_online_knn_hook_logs_the_right_number(tmp_path):
    runner = AVRunner(
        model=dict(type='_ToySSL'),
        work_dir=str(tmp_path),
        train_dataloader=_loader(True),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05)),
        train_cfg=dict(type='AVEpochBasedTrainLoop', max_epochs=2),
        custom_hooks=[
            dict(type='OnlineKNNHook', gallery_dataloader=_loader(),
                 interval=1, k=3, temperature=0.5, mode='clip')
        ],
        default_hooks=dict(checkpoint=None, logger=dict(
            type='LoggerHook', interval=1)),
        default_scope='mmavcl')
    runner.train()
    hook = [h for h in runner.hooks if type(h).__name__ == 'OnlineKNNHook'][0]
    assert [h['step'] for h in hook.history] == [1, 2]
    model = runner.model
    assert model.training and all(model.seen_training)  # state restored
    # recompute with the trained backbone, 'clip' mode: every view is an
    # item and the query's own video is left out
    ds = _KNNClips()
    model.eval()
    feats, labels, ids = [], [], []
    with torch.no_grad():
        for i in range(len(ds)):
            for v in ds.clips[i]:
                feats.append(model.backbone(v[None]).flatten(2).mean(2)[0]
                             .numpy().astype(np.float64))
                labels.append(int(ds.labels[i]))
                ids.append(i)
    ref = _ref_knn(np.stack(feats), labels, ids, k=3, t=0.5)
    assert abs(hook.history[-1]['online_knn/top1'] - ref) < 1e-6
    scalars = runner.message_hub.log_scalars
    assert 'online_knn/top1' in scalars and 'online_knn/R@1' in scalars
    log = open(runner.log_dir + f'/{runner.timestamp}.log').read()
    assert 'online kNN (k=3, 24 queries, 24 gallery items) at epoch 2' in log
