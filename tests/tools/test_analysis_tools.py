"""tools/analysis: each tool runs on real inputs and writes a valid file."""
import contextlib
import io
import json
import os.path as osp
import sys

import numpy as np
import pytest

from mmavcl.testing import load_script

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools', 'analysis')
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
DEMO = 'configs/demo/avc_r3d-10_1xb16-8x2x1-50e_toy.py'


def _run(script, *args):
    """``python SCRIPT ARGS`` from the checkout, run as the script's
    ``main(ARGS)`` in this process (a subprocess would spend seconds
    importing torch and mmengine again); returns what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        load_script(script).main(list(args))
    return out.getvalue()


def _is_png(path):
    with open(path, 'rb') as f:
        return f.read(8) == PNG_MAGIC


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('toy'))
    _run(osp.join(ROOT, 'tools/data/make_toy_dataset.py'), '--out', out,
         '--num-per-class', '2', '--val-ratio', '0.5',
         '--workers', '1')  # in this process: no pool to pickle for
    return out


def test_print_config_resolves_inheritance_and_options():
    out = _run(osp.join(TOOLS, 'print_config.py'),
               osp.join(ROOT, DEMO),
               '--cfg-options', 'train_dataloader.batch_size=3')
    assert "default_scope = 'mmavcl'" in out  # from _base_/default_runtime
    assert 'batch_size=3' in out
    assert "type='AVCorrespondence'" in out


def test_plot_logs_writes_png_with_the_logged_series(tmp_path):
    log = tmp_path / 'scalars.json'
    log.write_text('\n'.join(json.dumps(dict(loss=3.0 - 0.1 * i, step=i))
                             for i in range(1, 11)) + '\n')
    png = str(tmp_path / 'curves.png')
    _run(osp.join(TOOLS, 'plot_logs.py'), str(log), '--keys', 'loss',
         '--out', png)
    assert _is_png(png)
    sys.path.insert(0, TOOLS)
    from plot_logs import read_scalars
    series = read_scalars(str(log))
    assert series['loss'][0] == (1, 2.9) and len(series['loss']) == 10
    with pytest.raises(KeyError, match='not in the log'):
        from plot_logs import plot
        plot(series, ['acc'], str(tmp_path / 'x.png'))


def test_vis_embeddings_separates_clustered_features(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    feats = rng.normal(0, 0.1, (60, 16)) + np.eye(3, 16)[labels] * 5
    npz = str(tmp_path / 'feats.npz')
    np.savez(npz, features=feats.astype(np.float32), labels=labels)
    png = str(tmp_path / 'tsne.png')
    _run(osp.join(TOOLS, 'vis_embeddings.py'), npz, '--out', png)
    assert _is_png(png)
    sys.path.insert(0, TOOLS)
    from vis_embeddings import embed_2d
    xy = embed_2d(feats.astype(np.float32))
    centres = np.stack([xy[labels == c].mean(0) for c in range(3)])
    spread = max(xy[labels == c].std(0).max() for c in range(3))
    gaps = [np.linalg.norm(centres[a] - centres[b])
            for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 2 * spread  # the map keeps the three clusters apart


def test_get_flops_counts_the_demo_backbone():
    out = _run(osp.join(TOOLS, 'get_flops.py'),
               osp.join(ROOT, DEMO), '--shape',
               '3', '8', '32', '32')
    params = float(out.split('params:')[1].split('M')[0])
    # R3D-10 with 16 base channels: conv1 3*16*3*7*7 + one block per stage
    import mmavcl  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmavcl.registry import MODELS
    init_default_scope('mmavcl')
    m = MODELS.build(dict(type='ResNet3d', depth=18, base_channels=16,
                          stage_blocks=(1, 1, 1, 1)))
    expected = sum(p.numel() for p in m.parameters()) / 1e6
    assert abs(params - expected) < 0.01
    assert float(out.split('flops:')[1].split('GFLOPs')[0]) > 0


def test_browse_dataset_draws_views_boxes_and_log_mel(toy, tmp_path):
    out_dir = str(tmp_path / 'browse')
    _run(osp.join(TOOLS, 'browse_dataset.py'),
         osp.join(ROOT, DEMO), '--out', out_dir,
         '--num', '2', '--gif', '--cfg-options',
         f'train_dataloader.dataset.data_root={toy}')
    for i in range(2):
        assert _is_png(osp.join(out_dir, f'sample_{i:03d}.png'))
        with open(osp.join(out_dir, f'sample_{i:03d}_view0.gif'), 'rb') as f:
            assert f.read(6) == b'GIF89a'
