"""Optional CPU photometric augmentation on uint8 views.

The main photometric path is batched on the device (the data
preprocessor's kornia augmentation). These CPU versions exist for
pipelines that must finish augmentation in the workers. Each view draws its
own parameters, shared by all its frames, and records them in its meta.
Wrap them in ``mmcv.transforms.RandomApply`` for a probability, as SimCLR /
MoCo-v2 recipes do (``RandomApply([ColorJitterViews(...)], prob=0.8)``).
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from mmavcl.registry import TRANSFORMS
from .spatial import ViewTransform

__all__ = ['ColorJitterViews', 'GrayscaleViews']

_GRAY = np.array([0.299, 0.587, 0.114], np.float32)


def _range(value: float, center: float = 1.0) -> Optional[Tuple[float,
                                                                float]]:
    if not value:
        return None
    return (max(0.0, center - value), center + value)


def adjust_clip(imgs: np.ndarray, brightness: float, contrast: float,
                saturation: float, hue: float,
                order: Sequence[int]) -> np.ndarray:
    """Apply the four colour adjustments to uint8 ``(T, H, W, 3)`` RGB.

    ``brightness``: ``x * b``; ``contrast``: ``(x - m) * c + m`` with ``m``
    the mean grey level of the whole view; ``saturation``:
    ``(x - g) * s + g`` with ``g`` the per-pixel grey; ``hue``: rotation by
    ``hue`` turns (in [-0.5, 0.5]) in HSV. Applied in ``order`` (indices
    0-3 for b, c, s, h); values are clipped to [0, 255] after each step.
    Returns uint8 of the same shape.
    """
    x = imgs.astype(np.float32)
    for op in order:
        if op == 0 and brightness != 1:
            x = np.clip(x * brightness, 0, 255)
        elif op == 1 and contrast != 1:
            m = float((x @ _GRAY).mean())
            x = np.clip((x - m) * contrast + m, 0, 255)
        elif op == 2 and saturation != 1:
            g = (x @ _GRAY)[..., None]
            x = np.clip((x - g) * saturation + g, 0, 255)
        elif op == 3 and hue != 0:
            t, h, w, _ = x.shape
            # one cvtColor for the whole clip: frames stacked as a tall image
            tall = np.round(x).astype(np.uint8).reshape(t * h, w, 3)
            hsv = cv2.cvtColor(tall, cv2.COLOR_RGB2HSV)  # H in [0, 180)
            shift = int(round(hue * 180))
            hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) %
                           180).astype(np.uint8)
            x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).reshape(
                t, h, w, 3).astype(np.float32)
    return np.round(x).astype(np.uint8)


@TRANSFORMS.register_module()
class ColorJitterViews(ViewTransform):
    """Colour jitter drawn per view, identical over the view's frames.

    Factors are drawn uniformly from ``[max(0, 1 - v), 1 + v]`` (hue: from
    ``[-hue, hue]``) and applied in a random order, as torchvision's
    ``ColorJitter`` does. Recorded in the view as ``color_jitter =
    dict(brightness, contrast, saturation, hue, order)``.

    Required keys: ``video_imgs``, ``video_views``.
    Modified keys: ``video_imgs``; views gain ``color_jitter``.
    """

    def __init__(self,
                 brightness: float = 0.4,
                 contrast: float = 0.4,
                 saturation: float = 0.4,
                 hue: float = 0.1,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 <= hue <= 0.5:
            raise ValueError(f'hue must be in [0, 0.5], got {hue}')
        self.ranges = (_range(brightness), _range(contrast),
                       _range(saturation))
        self.hue = hue

    def draw(self) -> dict:
        """Random parameters for one view."""
        b, c, s = (float(np.random.uniform(*r)) if r else 1.0
                   for r in self.ranges)
        h = float(np.random.uniform(-self.hue, self.hue)) if self.hue else 0.
        return dict(brightness=b, contrast=c, saturation=s, hue=h,
                    order=[int(i) for i in np.random.permutation(4)])

    def transform_view(self, imgs: np.ndarray, view: dict) -> np.ndarray:
        params = self.draw()
        view['color_jitter'] = params
        return adjust_clip(imgs, **params)


@TRANSFORMS.register_module()
class GrayscaleViews(ViewTransform):
    """Turn a view grey (all frames) with probability ``prob``; keeps 3
    channels. Recorded in the view as ``grayscale`` (bool).

    Required keys: ``video_imgs``, ``video_views``.
    Modified keys: ``video_imgs``; views gain ``grayscale``.
    """

    def __init__(self, prob: float = 0.2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.prob = prob

    def transform_view(self, imgs: np.ndarray, view: dict) -> np.ndarray:
        do = bool(np.random.rand() < self.prob)
        view['grayscale'] = do
        if not do:
            return imgs
        g = np.round(imgs.astype(np.float32) @ _GRAY).clip(0, 255)
        return np.repeat(g.astype(np.uint8)[..., None], 3, axis=-1)
