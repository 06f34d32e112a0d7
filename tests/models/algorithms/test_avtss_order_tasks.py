"""AVTSS order tasks (issue #20 s4): the inter-modal head sees clip 2 and
audio 2 (audio 1 shares clip 1's span, so (v1, a2) would repeat (a1, a2)),
and masked order labels (-1) stay out of the loss and the accuracy."""
import copy

import torch

from alg_helpers import build, ce_row, close, optim, pool
from test_alg_avtss import B, avtss_cfg, make_batch


def _order_reference(ref, data, name, x, y):
    """Mean CE over the samples whose ``order_<name>`` label is >= 0."""
    head = getattr(ref, f'order_{name}_head')
    logits = head(torch.cat([x, y], 1))
    rows = [ce_row(logits[i], s.pretext_labels[f'order_{name}'])
            for i, s in enumerate(data['data_samples'])
            if s.pretext_labels[f'order_{name}'] >= 0]
    return torch.stack(rows).mean()


def test_inter_modal_pair_and_masked_labels():
    torch.manual_seed(0)
    model = build(avtss_cfg())
    ref = copy.deepcopy(model)
    data = make_batch(3)
    masked = [0, 2]  # samples whose order labels are masked
    for i in masked:
        for name in ('vv', 'aa', 'va'):
            data['data_samples'][i].pretext_labels[f'order_{name}'] = -1
    log = model.train_step(data, optim(model))
    (v1, v2), (a1, a2) = data['inputs']['video'], data['inputs']['audio']
    with torch.no_grad():
        hv1, hv2 = pool(ref.backbone(v1)), pool(ref.backbone(v2))
        ha1, ha2 = pool(ref.audio_backbone(a1)), pool(ref.audio_backbone(a2))
        for name, x, y in (('vv', hv1, hv2), ('aa', ha1, ha2),
                           ('va', hv2, ha2)):
            close(log[f'loss_order_{name}'],
                  _order_reference(ref, data, name, x, y))
            assert 0 <= float(log[f'acc_order_{name}']) <= 100


def test_all_order_labels_masked_gives_a_zero_that_trains():
    """A batch without any labelled order: zero order losses, finite,
    still in the graph (DDP needs every head's gradient)."""
    torch.manual_seed(0)
    model = build(avtss_cfg())
    data = make_batch(4)
    for s in data['data_samples']:
        for name in ('vv', 'aa', 'va'):
            s.pretext_labels[f'order_{name}'] = -1
    data = model.data_preprocessor(data, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    for name in ('vv', 'aa', 'va'):
        loss = losses[f'loss_order_{name}']
        assert float(loss.detach()) == 0.0 and loss.requires_grad
        assert float(losses[f'acc_order_{name}']) == 0.0
    sum(v for k, v in losses.items() if k.startswith('loss_')).backward()
    for p in model.order_va_head.parameters():
        assert p.grad is not None and torch.all(p.grad == 0)
    assert len(data['data_samples']) == B
