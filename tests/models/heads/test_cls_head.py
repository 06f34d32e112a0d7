"""ClsHead against hand-written references."""
import math

import pytest
import torch

from mmavcl.models.heads import ClsHead
from mmavcl.structures import AVDataSample


def _head(**kw):
    cfg = dict(num_classes=3, in_channels=4, dropout_ratio=0.0)
    cfg.update(kw)
    head = ClsHead(**cfg)
    head.init_weights()
    return head


def test_forward_pools_every_axis_then_linear():
    torch.manual_seed(0)
    head = _head()
    x = torch.randn(2, 4, 3, 2, 2)  # (N, C, T, H, W)
    pooled = x.mean(dim=(2, 3, 4))
    ref = pooled @ head.fc.weight.T + head.fc.bias
    assert torch.allclose(head(x), ref, atol=1e-6)
    # an audio map (N, C, F, T) and pre-pooled (N, C) work the same way
    assert torch.allclose(head(x.flatten(3)), ref, atol=1e-6)
    assert torch.allclose(head(pooled), ref, atol=1e-6)
    mx = _head(pool='max')
    mx.load_state_dict(head.state_dict())
    ref_max = x.amax(dim=(2, 3, 4)) @ head.fc.weight.T + head.fc.bias
    assert torch.allclose(mx(x), ref_max, atol=1e-6)
    with pytest.raises(ValueError, match='in_channels=4'):
        head(torch.randn(2, 5, 3))


def test_mlp_head_and_init():
    head = _head(hidden_channels=8, init_std=0.01)
    assert head.hidden[0].weight.shape == (8, 4)
    assert head.fc.bias.abs().sum() == 0
    assert head.fc.weight.std() < 0.05
    x = torch.randn(5, 4)
    ref = torch.relu(x @ head.hidden[0].weight.T + head.hidden[0].bias)
    ref = ref @ head.fc.weight.T + head.fc.bias
    assert torch.allclose(head(x), ref, atol=1e-6)


def test_loss_is_cross_entropy_by_hand():
    torch.manual_seed(1)
    head = _head()
    x = torch.randn(3, 4)
    samples = [AVDataSample().set_gt_label(y) for y in (0, 2, 1)]
    out = head.loss(x, samples)
    z = head(x).detach()
    ref = 0.0
    for i, y in enumerate((0, 2, 1)):
        row = z[i].tolist()
        ref -= row[y] - math.log(sum(math.exp(v) for v in row))
    assert out['loss_cls'].item() == pytest.approx(ref / 3, rel=1e-5)
    hits = sum(int(z[i].argmax() == y) for i, y in enumerate((0, 2, 1)))
    assert out['top1_acc'].item() == pytest.approx(100 * hits / 3)
    with pytest.raises(KeyError, match='clip.mp4 has no `gt_label`'):
        head.loss(x[:1], [AVDataSample(metainfo=dict(video_id='clip.mp4'))])


def test_average_clips_and_predict():
    head = _head()
    logits = torch.tensor([[1., 0., 0.], [0., 2., 0.], [3., 0., 1.],
                           [0., 0., 0.]])  # 2 samples x 2 views
    avg, per_view = head.average_clips(logits, 2)
    sm = [[math.exp(v) / sum(math.exp(u) for u in row) for v in row]
          for row in logits.tolist()]
    ref = [[(sm[0][c] + sm[1][c]) / 2 for c in range(3)],
           [(sm[2][c] + sm[3][c]) / 2 for c in range(3)]]
    assert torch.allclose(avg, torch.tensor(ref), atol=1e-6)
    assert per_view.shape == (2, 2, 3)
    head_s = _head(average_clips='score')
    avg_s, _ = head_s.average_clips(logits, 2)
    assert torch.allclose(avg_s, torch.tensor([[.5, 1., 0.], [1.5, 0., .5]]))
    with pytest.raises(ValueError, match='average_clips'):
        _head(average_clips='mean')
    samples = head.predict(torch.randn(4, 4), [AVDataSample(),
                                               AVDataSample()], 2)
    assert samples[0].pred_score.shape == (3, )
    assert samples[0].clip_scores.shape == (2, 3)
    assert samples[1].pred_label.item() == samples[1].pred_score.argmax()
