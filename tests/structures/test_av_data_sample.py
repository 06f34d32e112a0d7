import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from mmavcl.structures import AVDataSample, format_label


def test_labels_and_fields():
    s = AVDataSample(metainfo=dict(video_id='a.mp4', source_shape=(48, 64),
                                   fps=25.0, total_frames=100))
    s.set_gt_label(3)
    assert s.gt_label.tolist() == [3] and s.gt_label.dtype == torch.long
    s.set_gt_label(np.int64(4))
    assert s.gt_label.tolist() == [4]
    s.set_gt_label([1, 5])  # multi-label lists
    assert s.gt_label.tolist() == [1, 5]
    s.view_meta = [dict(frame_inds=np.arange(4), time_span=(0, 0.16))]
    s.audio_meta = []
    s.pretext_labels = dict(order=2)
    assert s.source_shape == (48, 64) and s.video_id == 'a.mp4'
    assert 'view_meta' in s and 'video_id' in s.metainfo_keys()
    assert s.pretext_labels['order'] == 2
    with pytest.raises(TypeError):
        format_label('cat')


def test_pseudo_collate_keeps_samples():
    samples = [
        AVDataSample(metainfo=dict(video_id=str(i))).set_gt_label(i)
        for i in range(3)
    ]
    batch = pseudo_collate([dict(inputs=dict(video=[torch.zeros(3, 2, 4, 4)]),
                                 data_samples=s) for s in samples])
    assert [s.video_id for s in batch['data_samples']] == ['0', '1', '2']
    assert len(batch['inputs']['video']) == 1  # one view ...
    assert len(batch['inputs']['video'][0]) == 3  # ... of 3 samples
