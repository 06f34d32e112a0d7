"""Per-view spatial transforms on uint8 ``(T, H, W, 3)`` clips.

Each view keeps ``crop_box`` ``(x1, y1, x2, y2)``: the region of the source
frame (``source_shape`` coordinates, float pixels, before any flip) that its
current image shows, and ``flip``: whether the image is mirrored
horizontally. Resizing leaves both unchanged; a crop in current pixels is
mapped back to source pixels (undoing the flip). So region-level losses can
compute overlaps between views in source space-time from ``crop_box`` and
``time_span`` alone.

All frames of a view share one set of parameters; a view's frames are
resized with one ``cv2.resize`` call each (see :func:`resize_clip` for why not
one call). Crops come before resizes, and pixels stay uint8.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmavcl.registry import TRANSFORMS

__all__ = [
    'resize_clip', 'ViewTransform', 'ResizeViews', 'RandomResizedCropViews',
    'CenterCropViews', 'ThreeCropViews', 'FlipViews'
]

_INTERP = {
    'nearest': cv2.INTER_NEAREST,
    'bilinear': cv2.INTER_LINEAR,
    'bicubic': cv2.INTER_CUBIC,
    'area': cv2.INTER_AREA,
}


def resize_clip(imgs: np.ndarray,
                size: Tuple[int, int],
                interpolation: str = 'bilinear') -> np.ndarray:
    """Resize uint8 ``(T, H, W, C)`` frames to ``size = (w, h)``.

    One ``cv2.resize`` per frame into a preallocated array. Stacking the
    frames along the channel axis to resize the clip in one call looks
    loop-free but is 7-9x slower: OpenCV's resize has SIMD kernels for 1-4
    channels only (measured 16.6 ms vs 2.3 ms for 16 x 128 x 170 -> 112^2,
    docs/benchmarks_history.md).

    Returns:
        uint8 ``(T, h, w, C)``.
    """
    t, h, w, c = imgs.shape
    nw, nh = int(size[0]), int(size[1])
    if (nw, nh) == (w, h):
        return imgs
    out = np.empty((t, nh, nw, c), dtype=imgs.dtype)
    flag = _INTERP[interpolation]
    for i in range(t):
        out[i] = cv2.resize(imgs[i], (nw, nh), interpolation=flag).reshape(
            nh, nw, c)
    return out


def _map_crop(view: dict, x1: float, y1: float, x2: float, y2: float,
              cur_hw: Tuple[int, int]) -> Tuple[float, float, float, float]:
    """Source-pixel box of a crop given in the view's current pixels."""
    bx1, by1, bx2, by2 = view['crop_box']
    ch, cw = cur_hw
    sx, sy = (bx2 - bx1) / cw, (by2 - by1) / ch
    if view.get('flip', False):
        nx1, nx2 = bx2 - x2 * sx, bx2 - x1 * sx
    else:
        nx1, nx2 = bx1 + x1 * sx, bx1 + x2 * sx
    return (float(nx1), float(by1 + y1 * sy), float(nx2), float(by1 + y2 * sy))


def _pair(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """``(w, h)`` from an int or a pair."""
    if isinstance(size, int):
        return (size, size)
    return (int(size[0]), int(size[1]))


class ViewTransform(BaseTransform):
    """Base of the per-view transforms.

    Required keys: ``video_imgs``, ``video_views``.
    Modified keys: ``video_imgs`` and the selected views' ``crop_box``,
    ``flip``, ``img_shape``.

    Args:
        view_types: Apply only to views of these ``view_type``s (``None``:
            all).
        views: Apply only to these view indices (``None``: all).
    """

    def __init__(self,
                 view_types: Optional[Sequence[str]] = None,
                 views: Optional[Sequence[int]] = None) -> None:
        self.view_types = None if view_types is None else set(view_types)
        self.views = None if views is None else set(views)

    def _selected(self, results: Dict) -> List[int]:
        out = []
        for i, v in enumerate(results['video_views']):
            if self.views is not None and i not in self.views:
                continue
            if self.view_types is not None and \
                    v['view_type'] not in self.view_types:
                continue
            out.append(i)
        return out

    def transform_view(self, imgs: np.ndarray, view: dict) -> np.ndarray:
        raise NotImplementedError

    def transform(self, results: Dict) -> Dict:
        imgs = results['video_imgs']
        views = results['video_views']
        for i in self._selected(results):
            imgs[i] = self.transform_view(imgs[i], views[i])
            views[i]['img_shape'] = tuple(imgs[i].shape[1:3])
        return results


@TRANSFORMS.register_module()
class ResizeViews(ViewTransform):
    """Resize each view.

    Args:
        scale: ``int`` s: short side to s (aspect kept); ``(w, h)`` with one
            entry ``-1``: short side to the other entry (MMAction2's
            ``Resize(scale=(-1, s))``); ``(w, h)``: exactly that size.
        interpolation: ``'bilinear'``, ``'area'``, ``'bicubic'``,
            ``'nearest'``.
    """

    def __init__(self,
                 scale: Union[int, Tuple[int, int]],
                 interpolation: str = 'bilinear',
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale = scale
        self.interpolation = interpolation

    def _size(self, h: int, w: int) -> Tuple[int, int]:
        if isinstance(self.scale, int) or -1 in tuple(self.scale):
            s = self.scale if isinstance(self.scale, int) else max(self.scale)
            if h <= w:
                return (int(round(w * s / h)), s)
            return (s, int(round(h * s / w)))
        return _pair(self.scale)

    def transform_view(self, imgs: np.ndarray, view: dict) -> np.ndarray:
        h, w = imgs.shape[1:3]
        return resize_clip(imgs, self._size(h, w), self.interpolation)


@TRANSFORMS.register_module()
class RandomResizedCropViews(ViewTransform):
    """Random resized crop, drawn independently for each view.

    The box has an area fraction in ``scale`` and an aspect ratio (w/h,
    log-uniform) in ``ratio`` of the current image (10 tries, then the
    largest centred box with a valid ratio, as torchvision does); the crop is
    cut first, then resized to ``size``.

    Args:
        size: Output ``int`` or ``(w, h)``.
        scale: Area fraction range.
        ratio: Aspect ratio range.
        interpolation: See :class:`ResizeViews`.
        same_on_views: One draw shared by all selected views.
    """

    def __init__(self,
                 size: Union[int, Tuple[int, int]],
                 scale: Tuple[float, float] = (0.08, 1.0),
                 ratio: Tuple[float, float] = (3 / 4, 4 / 3),
                 interpolation: str = 'bilinear',
                 same_on_views: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.size = _pair(size)
        self.scale = scale
        self.ratio = ratio
        self.interpolation = interpolation
        self.same_on_views = same_on_views

    @cache_randomness
    def get_box(self, h: int, w: int) -> Tuple[int, int, int, int]:
        """``(x1, y1, x2, y2)`` integer crop box in an ``h x w`` image.

        Marked with ``cache_randomness``, so inside mmcv's
        ``cache_random_params`` (e.g. under ``TransformBroadcaster`` with
        ``share_random_params=True``) one draw is reused.
        """
        area = h * w
        log_r = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * np.random.uniform(*self.scale)
            ar = math.exp(np.random.uniform(*log_r))
            cw = int(round(math.sqrt(target * ar)))
            ch = int(round(math.sqrt(target / ar)))
            if 0 < cw <= w and 0 < ch <= h:
                x = int(np.random.randint(0, w - cw + 1))
                y = int(np.random.randint(0, h - ch + 1))
                return x, y, x + cw, y + ch
        in_ratio = w / h
        if in_ratio < self.ratio[0]:
            cw, ch = w, int(round(w / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            ch, cw = h, int(round(h * self.ratio[1]))
        else:
            cw, ch = w, h
        x, y = (w - cw) // 2, (h - ch) // 2
        return x, y, x + cw, y + ch

    def transform(self, results: Dict) -> Dict:
        self._shared = None
        return super().transform(results)

    def transform_view(self, imgs: np.ndarray, view: dict) -> np.ndarray:
        h, w = imgs.shape[1:3]
        if self.same_on_views and self._shared is not None:
            box = self._shared
        else:
            box = self.get_box(h, w)
            self._shared = box
        x1, y1, x2, y2 = box
        view['crop_box'] = _map_crop(view, x1, y1, x2, y2, (h, w))
        return resize_clip(imgs[:, y1:y2, x1:x2], self.size,
                           self.interpolation)


@TRANSFORMS.register_module()
class CenterCropViews(ViewTransform):
    """Centre crop of ``size`` (``int`` or ``(w, h)``) of each view."""

    def __init__(self, size: Union[int, Tuple[int, int]], **kwargs) -> None:
        super().__init__(**kwargs)
        self.size = _pair(size)

    def transform_view(self, imgs: np.ndarray, view: dict) -> np.ndarray:
        h, w = imgs.shape[1:3]
        cw, ch = min(self.size[0], w), min(self.size[1], h)
        x1, y1 = (w - cw) // 2, (h - ch) // 2
        view['crop_box'] = _map_crop(view, x1, y1, x1 + cw, y1 + ch, (h, w))
        return imgs[:, y1:y1 + ch, x1:x1 + cw]


@TRANSFORMS.register_module()
class ThreeCropViews(BaseTransform):
    """Test-time three crops of ``size`` along the longer side of each view.

    Every selected video view is replaced by three views (start / centre /
    end of the longer side, ``crop_index`` 0, 1, 2), kept together, so V
    views become 3V in the order ``[v0c0, v0c1, v0c2, v1c0, ...]``. Audio
    views are untouched.

    Required keys: ``video_imgs``, ``video_views``.
    Modified keys: ``video_imgs``, ``video_views``.
    """

    def __init__(self, size: Union[int, Tuple[int, int]]) -> None:
        self.size = _pair(size)

    def transform(self, results: Dict) -> Dict:
        new_imgs, new_views = [], []
        for imgs, view in zip(results['video_imgs'], results['video_views']):
            h, w = imgs.shape[1:3]
            cw, ch = min(self.size[0], w), min(self.size[1], h)
            if w >= h:
                offs = [(0, (h - ch) // 2), ((w - cw) // 2, (h - ch) // 2),
                        (w - cw, (h - ch) // 2)]
            else:
                offs = [((w - cw) // 2, 0), ((w - cw) // 2, (h - ch) // 2),
                        ((w - cw) // 2, h - ch)]
            for k, (x, y) in enumerate(offs):
                v = dict(view)
                v['crop_box'] = _map_crop(view, x, y, x + cw, y + ch, (h, w))
                v['crop_index'] = k
                v['img_shape'] = (ch, cw)
                new_views.append(v)
                new_imgs.append(imgs[:, y:y + ch, x:x + cw])
        results['video_imgs'] = new_imgs
        results['video_views'] = new_views
        return results


@TRANSFORMS.register_module()
class FlipViews(ViewTransform):
    """Horizontal flip of each view with probability ``flip_prob``.

    ``flip`` toggles in the view's meta; ``crop_box`` stays in unflipped
    source coordinates. The flipped clip is a negative-stride view, not a
    copy: :class:`PackAVInputs` copies every view once anyway (to
    ``(C, T, H, W)``), which materialises the flip for free.

    Args:
        flip_prob: Probability per view.
        same_on_views: One coin shared by all selected views.
    """

    def __init__(self,
                 flip_prob: float = 0.5,
                 same_on_views: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.flip_prob = flip_prob
        self.same_on_views = same_on_views

    def transform(self, results: Dict) -> Dict:
        self._coin = bool(np.random.rand() < self.flip_prob)
        return super().transform(results)

    def transform_view(self, imgs: np.ndarray, view: dict) -> np.ndarray:
        do = self._coin if self.same_on_views else bool(
            np.random.rand() < self.flip_prob)
        if not do:
            return imgs
        view['flip'] = not view.get('flip', False)
        return imgs[:, :, ::-1]
