"""One-command demo: audio-visual self-supervision beats random init.

    python tools/demo.py [--work-dir work_dirs/demo] [--data-root data/toy_av]
                         [--epochs N] [--num-per-class N]

(``make demo`` runs this after setting up ``.venv``.) Steps:

1. write the toy audio-visual dataset (real H.264 + AAC files) if missing;
2. pretrain a small video + audio encoder pair with audio-visual
   correspondence (``configs/demo/``) through ``tools/train.py``;
3. extract frozen video features with the pretrained backbone and with a
   randomly initialised copy (same architecture, same seed);
4. linear probe (multinomial logistic regression on the frozen, clip-averaged
   features, train split → val split) and video retrieval R@1 (val queries,
   train gallery, cosine) for both;
5. print the comparison table and write ``summary.json`` and
   ``loss_curve.png`` into the work dir.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRETRAIN_CFG = 'configs/demo/avc_r3d-10_1xb16-8x2x1-50e_toy.py'
FEATURE_CFG = 'configs/demo/avc_r3d-10_features_toy.py'


def step(msg: str) -> None:
    print(f'\n==> {msg}', flush=True)


def run(cmd, **kwargs) -> None:
    """Run a tool as a user would, streaming its output."""
    print('$ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kwargs)


def make_dataset(data_root: str, num_per_class: int) -> None:
    marker = osp.join(data_root, 'demo_dataset.json')
    want = dict(num_per_class=num_per_class)
    if osp.isfile(marker) and json.load(open(marker)) == want:
        print(f'{data_root} exists, reusing it')
        return
    run([sys.executable, 'tools/data/make_toy_dataset.py', '--out',
         data_root, '--num-per-class', str(num_per_class)])
    with open(marker, 'w') as f:
        json.dump(want, f)


def pretrain(work_dir: str, data_root: str, epochs: int,
             batch_size: int) -> str:
    pre_dir = osp.join(work_dir, 'pretrain')
    run([sys.executable, 'tools/train.py', PRETRAIN_CFG, '--work-dir',
         pre_dir, '--cfg-options', f'train_cfg.max_epochs={epochs}',
         f'param_scheduler.0.T_max={epochs}',
         f'param_scheduler.0.end={epochs}',
         f'train_dataloader.batch_size={batch_size}',
         f'train_dataloader.dataset.data_root={data_root}'])
    ckpt = osp.join(pre_dir, f'epoch_{epochs}.pth')
    if not osp.isfile(ckpt):
        raise FileNotFoundError(f'pretraining did not write {ckpt}')
    return ckpt


def extract(feature_cfg: str, checkpoint, data_root: str
            ) -> Dict[str, Dict[str, np.ndarray]]:
    """Features of the train (gallery) and val (test) splits."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from mmavcl.apis import extract_features
    from mmavcl.registry import MODELS

    cfg = Config.fromfile(osp.join(ROOT, feature_cfg))
    init_default_scope('mmavcl')
    torch.manual_seed(cfg.get('randomness', {}).get('seed', 0))
    cfg.model.pretrained = checkpoint
    model = MODELS.build(cfg.model)
    model.init_weights()
    out = {}
    for split, key in (('train', 'gallery_dataloader'),
                       ('val', 'test_dataloader')):
        loader_cfg = cfg[key]
        loader_cfg.dataset.data_root = data_root
        out[split] = extract_features(model, Runner.build_dataloader(
            loader_cfg), progress=False)
    return out


def video_level(feats: Dict[str, np.ndarray]):
    """Average the clips of each video: ``(N, D)`` features, ``(N,)`` labels.
    """
    ids = feats['sample_idx']
    order = np.unique(ids)
    x = np.stack([feats['features'][ids == i].mean(0) for i in order])
    y = np.array([feats['labels'][ids == i][0] for i in order])
    return x, y


def linear_probe(train, val) -> float:
    """Top-1 (%) of a logistic-regression probe on frozen features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    xtr, ytr = video_level(train)
    xva, yva = video_level(val)
    scaler = StandardScaler().fit(xtr)
    clf = LogisticRegression(max_iter=5000, C=1.0)
    clf.fit(scaler.transform(xtr), ytr)
    return 100.0 * clf.score(scaler.transform(xva), yva)


def retrieval_r1(train, val) -> float:
    from mmavcl.evaluation.metrics import RetrievalMetric
    metric = RetrievalMetric(topk=(1, ), mode='video_mean')
    res = metric.compute_from_arrays(
        (val['features'], val['labels'], val['video_ids']),
        (train['features'], train['labels'], train['video_ids']))
    return float(next(iter(res.values())))


def plot_loss(pre_dir: str, out: str) -> None:
    scalars = sorted(glob.glob(osp.join(pre_dir, '*', 'vis_data',
                                        'scalars.json')))
    if not scalars:
        print(f'no scalars.json under {pre_dir}; skipping the loss curve')
        return
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))
    from plot_logs import plot, read_scalars
    series = read_scalars(scalars[-1])
    keys = [k for k in ('loss', 'acc_va') if k in series]
    plot(series, keys, out, title='audio-visual pretraining (toy)')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/toy_av')
    parser.add_argument('--epochs', type=int, default=50)
    parser.add_argument('--num-per-class', type=int, default=96)
    parser.add_argument('--batch-size', type=int, default=16,
                        help='pretraining batch (the in-batch negatives)')
    args = parser.parse_args(argv)
    work_dir = osp.abspath(args.work_dir)
    data_root = osp.abspath(args.data_root)
    os.makedirs(work_dir, exist_ok=True)
    t0 = time.time()

    step('1/4 toy audio-visual dataset')
    make_dataset(data_root, args.num_per_class)
    step(f'2/4 audio-visual pretraining ({args.epochs} epochs)')
    t_pre = time.time()
    ckpt = pretrain(work_dir, data_root, args.epochs, args.batch_size)
    t_pre = time.time() - t_pre
    step('3/4 frozen features: pretrained vs random init')
    results = {}
    for name, weights in (('ssl', ckpt), ('random', None)):
        feats = extract(FEATURE_CFG, weights, data_root)
        results[name] = dict(
            linear_top1=linear_probe(feats['train'], feats['val']),
            retrieval_r1=retrieval_r1(feats['train'], feats['val']))
    step('4/4 summary')
    plot_loss(osp.join(work_dir, 'pretrain'),
              osp.join(work_dir, 'loss_curve.png'))
    summary = dict(
        method='AVCorrespondence (audio<->video InfoNCE)',
        pretrain_config=PRETRAIN_CFG, epochs=args.epochs,
        pretrain_seconds=round(t_pre, 1),
        total_seconds=round(time.time() - t0, 1),
        linear_top1_ssl=round(results['ssl']['linear_top1'], 2),
        linear_top1_random=round(results['random']['linear_top1'], 2),
        retrieval_r1_ssl=round(results['ssl']['retrieval_r1'], 2),
        retrieval_r1_random=round(results['random']['retrieval_r1'], 2),
        checkpoint=ckpt)
    with open(osp.join(work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    rows = [
        ('method', summary['method']),
        ('epochs', str(args.epochs)),
        ('pretraining wall time', f'{t_pre / 60:.1f} min'),
        ('linear top-1, SSL', f'{summary["linear_top1_ssl"]:.1f} %'),
        ('linear top-1, random init',
         f'{summary["linear_top1_random"]:.1f} %'),
        ('retrieval R@1, SSL', f'{summary["retrieval_r1_ssl"]:.1f} %'),
        ('retrieval R@1, random init',
         f'{summary["retrieval_r1_random"]:.1f} %'),
    ]
    width = max(len(k) for k, _ in rows)
    print('\n' + '\n'.join(f'{k.ljust(width)}  {v}' for k, v in rows))
    print(f'\nwork dir: {work_dir} (summary.json, loss_curve.png, '
          'pretrain/ logs and checkpoints)')


if __name__ == '__main__':
    main()
