"""CtrlAug overlap weights against a brute-force voxel count.

The reference maps every voxel of a finely discretised source video
*forward* into each view (crop, flip, time span, reversal) to find the
feature cell that sees it, and counts shared voxels; the code under test
intersects cell extents *backward* in source coordinates.
"""
import numpy as np
import pytest
import torch

from mmavcl.models.algorithms import cell_extents, region_overlap_weights

SRC_T, SRC_H, SRC_W = 4.0, 48.0, 64.0          # seconds, pixels
DT, DP = 1 / 16, 0.5                           # voxel size


def _voxel_centres():
    t = np.arange(0, SRC_T, DT) + DT / 2
    y = np.arange(0, SRC_H, DP) + DP / 2
    x = np.arange(0, SRC_W, DP) + DP / 2
    return np.meshgrid(t, y, x, indexing='ij')


def _forward_cell(meta, grid, t, y, x):
    """Cell index of each source voxel in a view, -1 when outside it."""
    (t0, t1), (x1, y1, x2, y2) = meta['time_span'], meta['crop_box']
    nt, nh, nw = grid
    u = (t - t0) / (t1 - t0)                    # playback position
    if meta.get('reversed', False):
        u = 1 - u
    cy = (y - y1) / (y2 - y1)
    cx = (x - x1) / (x2 - x1)                   # column in the cropped image
    if meta.get('flip', False):
        cx = 1 - cx                             # flipped image column
    inside = (u >= 0) & (u < 1) & (cy >= 0) & (cy < 1) & (cx >= 0) & (cx < 1)
    it = np.clip(np.floor(u * nt), 0, nt - 1)
    iy = np.clip(np.floor(cy * nh), 0, nh - 1)
    ix = np.clip(np.floor(cx * nw), 0, nw - 1)
    cell = (it * nh + iy) * nw + ix
    return np.where(inside, cell, -1).astype(np.int64)


def _brute_force(qm, qg, km, kg):
    t, y, x = _voxel_centres()
    rq = _forward_cell(qm, qg, t, y, x).ravel()
    rk = _forward_cell(km, kg, t, y, x).ravel()
    nq, nk = int(np.prod(qg)), int(np.prod(kg))
    both = (rq >= 0) & (rk >= 0)
    counts = np.bincount(rq[both] * nk + rk[both],
                         minlength=nq * nk).reshape(nq, nk)
    vol = np.bincount(rq[rq >= 0], minlength=nq)
    return counts / vol[:, None]


GLOBAL = dict(time_span=(0.0, 4.0), crop_box=(0.0, 0.0, 64.0, 48.0),
              flip=False, reversed=False)


@pytest.mark.parametrize('local', [
    dict(time_span=(0.5, 1.5), crop_box=(8.0, 4.0, 40.0, 36.0), flip=False),
    dict(time_span=(0.5, 1.5), crop_box=(8.0, 4.0, 40.0, 36.0), flip=True),
    dict(time_span=(2.25, 3.75), crop_box=(30.0, 10.0, 62.0, 46.0),
         flip=True, reversed=True),
])
def test_overlap_matches_voxel_count_aligned(local):
    qg, kg = (2, 4, 4), (4, 3, 4)
    w = region_overlap_weights(local, qg, GLOBAL, kg).numpy()
    ref = _brute_force(local, qg, GLOBAL, kg)
    # Boxes and spans lie on the voxel grid: the count is exact.
    np.testing.assert_allclose(w, ref, atol=1e-9)
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-9)  # local inside G


def test_overlap_matches_voxel_count_random_boxes():
    rng = np.random.default_rng(0)
    for _ in range(3):
        def view(flip):
            x1, x2 = sorted(rng.uniform(0, SRC_W, 2))
            y1, y2 = sorted(rng.uniform(0, SRC_H, 2))
            t0, t1 = sorted(rng.uniform(0, SRC_T, 2))
            x2, y2, t1 = max(x2, x1 + 12), max(y2, y1 + 12), max(t1, t0 + 1)
            return dict(time_span=(t0, t1), crop_box=(x1, y1, x2, y2),
                        flip=flip, reversed=bool(rng.integers(2)))
        qm, km = view(True), view(bool(rng.integers(2)))
        qg, kg = (2, 3, 3), (2, 2, 3)
        w = region_overlap_weights(qm, qg, km, kg).numpy()
        ref = _brute_force(qm, qg, km, kg)
        # Off-grid boundaries: error bounded by one voxel layer per face.
        np.testing.assert_allclose(w, ref, atol=0.06)


def test_flip_is_undone():
    """A flipped view's left-most feature column sees the right of the box.
    """
    meta = dict(time_span=(0, 1), crop_box=(0, 0, 40, 10), flip=True)
    ext = cell_extents(meta, (1, 1, 4))
    assert ext[0, 2].tolist() == [30.0, 40.0]
    assert ext[3, 2].tolist() == [0.0, 10.0]
    same = dict(meta, flip=False)
    w = region_overlap_weights(meta, (1, 1, 4), same, (1, 1, 4))
    assert torch.equal(w, torch.eye(4, dtype=torch.float64).flip(1))


def test_missing_meta_is_named():
    with pytest.raises(KeyError, match='crop_box'):
        cell_extents(dict(time_span=(0, 1)), (1, 1, 1))
