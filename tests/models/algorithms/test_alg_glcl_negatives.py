"""GLCL's negatives: per GPU, as in the released code, with gathering as a
switch.

The released ``pretrain.py`` wraps the model in DDP and computes both
losses inside ``GlobalLocal.forward`` from the local batch only (32 clips,
1,024 local anchors per GPU; no all-gather). The paper config must do the
same (``gather=False`` in both ``MILNCELoss`` configs). Two real gloo
processes check that GLCL built with the paper config's losses gives, on
each rank, exactly the single-process loss of that rank's clips, and that
``gather=True`` instead contrasts each anchor with every rank's bags.
"""
import copy
import os.path as osp

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.config import Config

from alg_helpers import PLAIN_PREPROCESSOR, build, samples
from mmavcl.models.losses import MILNCELoss

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
PAPER_CONFIG = osp.join(ROOT, 'configs', 'glcl',
                        'glcl_r3d-18-2path_8xb32-32x1x1-10e_k400.py')
WORLD, B_PER_RANK = 2, 2
T, TA, MELS = 8, 24, 16


def paper_losses():
    cfg = Config.fromfile(PAPER_CONFIG)
    return cfg.model.loss_global.to_dict(), cfg.model.loss_local.to_dict()


def milnce(cfg, **override):
    """A ``MILNCELoss`` from a config dict, with ``override`` applied."""
    cfg = dict(cfg, **override)
    assert cfg.pop('type') == 'MILNCELoss'
    return MILNCELoss(**cfg)


def tiny_glcl(loss_global, loss_local):
    """The paper config's losses on thin encoders."""
    def proj(cin, cout, ndim):
        return dict(type='ConvMLPNeck', in_channels=cin, out_channels=cout,
                    num_layers=1, ndim=ndim)
    return dict(
        type='GLCL',
        backbone=dict(type='TwoPathwayResNet3d', alpha=4, beta=1 / 4,
                      slow_channels=8),
        audio_backbone=dict(type='AudioResNet1d', in_channels=MELS,
                            base_channels=8),
        slow_proj=proj(64, 64, 3), fast_proj=proj(16, 16, 3),
        audio_global_proj=proj(64, 64, 1), audio_local_proj=proj(64, 16, 1),
        loss_global=loss_global, loss_local=loss_local,
        data_preprocessor=PLAIN_PREPROCESSOR)


def global_batch():
    g = torch.Generator().manual_seed(1)
    n = WORLD * B_PER_RANK
    return dict(video=torch.randn(n, 3, T, 32, 32, generator=g),
                audio=torch.randn(n, 1, MELS, TA, generator=g),
                anchors=torch.randn(n, 6, generator=g),
                bags=torch.randn(n, 3, 6, generator=g))


def rank_slice(rank):
    return slice(rank * B_PER_RANK, (rank + 1) * B_PER_RANK)


def glcl_losses(loss_global, loss_local, video, audio):
    torch.manual_seed(0)  # the same weights in every process
    model = build(tiny_glcl(loss_global, loss_local))
    log = model.loss(dict(video=[video], audio=[audio]),
                     samples(video.shape[0]))
    return {k: log[k].detach() for k in ('loss_global', 'loss_local')}


def _worker(rank, init_file, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=WORLD)
    data, sl = global_batch(), rank_slice(rank)
    loss_global, loss_local = paper_losses()
    res = dict(paper=glcl_losses(loss_global, loss_local,
                                 data['video'][sl], data['audio'][sl]))
    res['milnce'] = {
        gather: milnce(loss_global, gather=gather)(
            data['anchors'][sl], data['bags'][sl]).detach()
        for gather in (False, True)
    }
    torch.save(res, osp.join(out_dir, f'rank{rank}.pth'))
    dist.barrier()
    dist.destroy_process_group()


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('glcl_gloo')
    mp.spawn(_worker, args=(str(tmp / 'init'), str(tmp)), nprocs=WORLD,
             join=True)
    return [torch.load(tmp / f'rank{r}.pth', weights_only=False)
            for r in range(WORLD)]


def twice_milnce(anchors, bags, candidates_a, candidates_c):
    """Code-form symmetric MIL-NCE (positive pair once per direction, tau 1,
    no normalisation), written as loops: anchor i of ``anchors`` against
    every bag of ``candidates_c``, and every anchor of ``candidates_a``
    against bag i; the positive bag is ``bags[i]``."""
    rows = []
    for a, c in zip(anchors, bags):
        terms = [c_j @ a for c_j in candidates_c] + \
            [c @ a_j for a_j in candidates_a]
        rows.append(torch.logsumexp(torch.cat(terms), 0) -
                    torch.logsumexp(c @ a, 0))
    return torch.stack(rows).mean()


def test_paper_config_uses_per_gpu_negatives():
    loss_global, loss_local = paper_losses()
    for cfg in (loss_global, loss_local):
        assert cfg['gather'] is False
        assert cfg['positive_in_denominator'] == 'twice'
        assert milnce(cfg).gather is False


def test_paper_losses_on_each_rank_equal_the_single_process_loss(results):
    """No anchor sees another rank's clips: rank r's GLCL losses equal the
    losses of a one-process model given only rank r's clips."""
    data = global_batch()
    loss_global, loss_local = paper_losses()
    for rank in range(WORLD):
        sl = rank_slice(rank)
        ref = glcl_losses(copy.deepcopy(loss_global),
                          copy.deepcopy(loss_local), data['video'][sl],
                          data['audio'][sl])
        for key, value in ref.items():
            torch.testing.assert_close(results[rank]['paper'][key], value,
                                       rtol=1e-5, atol=1e-5)


def test_gather_switch_against_loop_references(results):
    data = global_batch()
    a_all, c_all = data['anchors'], data['bags']
    for rank in range(WORLD):
        sl = rank_slice(rank)
        a, c = a_all[sl], c_all[sl]
        per_rank = twice_milnce(a, c, a, c)
        gathered = twice_milnce(a, c, a_all, c_all)
        torch.testing.assert_close(results[rank]['milnce'][False], per_rank,
                                   rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(results[rank]['milnce'][True], gathered,
                                   rtol=1e-5, atol=1e-5)
        # the switch matters: more negatives, a larger loss here
        assert gathered > per_rank + 1e-3
