"""The evaluation chain of docs/evaluation.md on real toy videos (CPU):
pretrain -> export -> extract_features -> retrieval/kNN -> linear probe via
tools/train.py -> tools/test.py; and tools/test.py's RetrievalMetric agrees
with eval_features on the same features."""
import os.path as osp

import pytest
import torch

from mmavcl.testing import last_logged_metrics, load_script

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN = 'configs/vclr/vclr_r3d-18_toy.py'
RETRIEVAL = 'configs/benchmarks/r3d-18/retrieval_r3d-18_1xb4-8x2x5_toy.py'
LINEAR = 'configs/benchmarks/r3d-18/linear_r3d-18_1xb8-8x2x1-5e_toy.py'


def _data_opts(data, loaders):
    opts = []
    for key in loaders:
        opts += [f'{key}.dataset.data_root={data}', f'{key}.num_workers=0']
    return opts


@pytest.mark.skipif(not osp.exists(osp.join(ROOT, PRETRAIN)),
                    reason='the toy VCLR config is not there')
def test_toy_chain(tmp_path, monkeypatch):
    data, work = str(tmp_path / 'toy_av'), str(tmp_path / 'work')
    load_script('tools/data/make_toy_dataset.py').make_toy_dataset(
        data, num_per_class=2, size=64, fps=16.0, duration=2.0, workers=1)

    # 1. pretrain one epoch
    load_script('tools/train.py').main([
        osp.join(ROOT, PRETRAIN), '--work-dir', f'{work}/pre',
        '--cfg-options', 'train_cfg.max_epochs=1',
        # 4 training videos: the config's batch of 6 would train nothing
        'train_dataloader.batch_size=4',
        *_data_opts(data, ['train_dataloader'])])
    ckpt = f'{work}/pre/epoch_1.pth'
    assert osp.isfile(ckpt)

    # 2. export the backbone (mmavcl checkpoints load weights-only)
    backbone = f'{work}/backbone.pth'
    load_script('tools/convert/to_mmaction2.py').main([ckpt, backbone])
    exported = torch.load(backbone, weights_only=True)['state_dict']

    # 3. features once per split
    ext = load_script('tools/extract_features.py')
    loaders = ['gallery_dataloader', 'test_dataloader']
    feats = {}
    for split in ('gallery', 'test'):
        feats[split] = f'{work}/feats/{split}.npz'
        ext.main([osp.join(ROOT, RETRIEVAL), backbone, '--split', split,
                  '--out', feats[split], '--no-progress', '--cfg-options',
                  *_data_opts(data, loaders)])

    # 4. retrieval + kNN from the two files
    res = load_script('tools/analysis/eval_features.py').main(
        [feats['gallery'], feats['test'], '--topk', '1', '5', '10',
         '--knn-k', '5'])
    assert 0 <= res['retrieval/R@1'] <= res['retrieval/R@5'] <= 100
    assert res['retrieval/R@10'] == 100.0  # every class is in the gallery

    # ... and the same numbers through tools/test.py's metrics
    load_script('tools/test.py').main([
        osp.join(ROOT, RETRIEVAL), backbone, '--work-dir', f'{work}/ret',
        '--cfg-options', *_data_opts(data, loaders),
        f'test_evaluator.0.gallery_file={feats["gallery"]}',
        f'test_evaluator.1.gallery_file={feats["gallery"]}'])
    logged = last_logged_metrics(f'{work}/ret')
    for k in (1, 5, 10):
        assert logged[f'retrieval/R@{k}'] == pytest.approx(
            res[f'retrieval/R@{k}'])
    assert logged['knn/top1'] == pytest.approx(res['knn5/top1'])

    # 5. linear probe on the exported backbone, then the 5-clip test
    lin_opts = _data_opts(
        data, ['train_dataloader', 'val_dataloader', 'test_dataloader'])
    load_script('tools/train.py').main([
        osp.join(ROOT, LINEAR), '--work-dir', f'{work}/lin', '--cfg-options',
        f'model.pretrained={backbone}', 'train_cfg.max_epochs=2',
        'train_dataloader.batch_size=4', *lin_opts])
    probe = torch.load(f'{work}/lin/epoch_2.pth', weights_only=False)
    for k, v in exported.items():  # frozen: weights and BN stats unchanged
        assert torch.equal(probe['state_dict'][k], v), k
    # the runner's checkpoint loads weights-only: no trust opt-in needed
    monkeypatch.delenv('MMAVCL_TRUST_CHECKPOINTS', raising=False)
    load_script('tools/test.py').main([
        osp.join(ROOT, LINEAR), f'{work}/lin/epoch_2.pth', '--work-dir',
        f'{work}/lin_test', '--cfg-options', *lin_opts])
    metrics = last_logged_metrics(f'{work}/lin_test')
    for key in ('acc/top1', 'acc/mean_class', 'acc/clip_top1'):
        assert 0.0 <= metrics[key] <= 100.0

