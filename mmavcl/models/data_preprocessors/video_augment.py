"""Batched photometric augmentation of video clips on the device.

:class:`BatchedVideoAug` takes the same list of kornia-style configs as
``AVDataPreprocessor(video_aug=...)`` (``ColorJitter``, ``RandomGrayscale``,
``RandomGaussianBlur``, ``RandomSolarize``, with kornia's argument names and
parameter distributions) and applies it to a ``(B, C, T, H, W)`` batch with
whole-batch tensor operations. What is ours and why:

* Parameters are drawn on the CPU with torch's global generator (as kornia
  does), a few numbers per clip, so which clips an op touches is known on
  the host and selecting them never waits for the device.
* Colour jitter: kornia draws one order of the four adjustments per call;
  torchvision, one per image. Here every clip gets its own order. The
  three blends (brightness, contrast, saturation) are one formula,
  ``clamp(f x + (1 - f) g)`` with ``g`` = 0, the frame's mean grey or the
  pixel's grey, so each of the four steps blends the whole batch with a
  per-clip ``f`` and ``g`` (``f = 1`` where a clip's step is the hue or the
  clip is not jittered) and shifts the hue of the clips whose step it is.
* Hue: kornia converts RGB -> HSV -> RGB (``kornia.enhance.adjust_hue``),
  the bulk of its time on the CPU. The shift here goes straight from the
  channels' max, min and sextant to the shifted RGB (the same HSV
  arithmetic without building the HSV image), equal to kornia's to ~1e-6,
  in tiles of frames that keep its ~38 passes in the CPU's caches.
* Gaussian blur: kornia builds one 2-D kernel per image and convolves
  the images one group each. Here every frame plane of the selected clips
  is a channel of one depthwise convolution (``groups = clips * C * T``)
  with its clip's separable kernel, a ``(k, 1)`` and a ``(1, k)`` pass on a
  reflect-padded buffer: the same weights as kornia's ``gaussian_blur2d``
  and, on the CPU, the same pixels as the shifted multiply-adds of the
  previous version (oneDNN sums the taps in order), 1.5x faster.
* Grayscale and solarize: plain tensor expressions on the selected clips.

The loops left are over the ops, the 4 jitter steps, the hue's tiles of
frames and its 3 channels, never over the clips of a batch.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmavcl.registry import MODELS

Range = Union[float, Sequence[float]]

# ITU-R BT.601 luma, the weights of kornia's and torchvision's grayscale
_LUMA = (0.299, 0.587, 0.114)


def _as_range(value: Range, name: str, center: Optional[float],
              bounds: Tuple[float, float]) -> Tuple[float, float]:
    """A scalar ``v`` -> ``(center - v, center + v)`` floored at
    ``bounds[0]``; a pair is the range itself (kornia's convention)."""
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f'{name}: a single number must be >= 0, '
                             f'got {value}')
        lo, hi = max(center - value, bounds[0]), center + value
    else:
        if len(value) != 2:
            raise ValueError(f'{name}: expected a number or a (min, max) '
                             f'pair, got {value!r}')
        lo, hi = float(value[0]), float(value[1])
    if not bounds[0] <= lo <= hi <= bounds[1]:
        raise ValueError(f'{name}: range ({lo}, {hi}) must be ordered and '
                         f'inside {bounds}')
    return float(lo), float(hi)


def _uniform(lo: float, hi: float, n: int) -> Tensor:
    return torch.rand(n) * (hi - lo) + lo


def _bcast(v: Tensor, x: Tensor) -> Tensor:
    """``(n,)`` per-clip values -> ``(n, 1, 1, 1, 1)`` on ``x``'s device."""
    return v.to(x.device, x.dtype, non_blocking=True).view(-1, 1, 1, 1, 1)


class Workspace:
    """Scratch tensors reused across calls on the CPU.

    A fresh tensor of a batch's size costs glibc a new mapping and a page
    fault per 4 KiB: on the development CPU ``torch.mul(x, 2)`` took 12.9 ms
    on 8 clips of 16x112x112, ``torch.mul(x, 2, out=y)`` 1.0 ms. Every
    pass here therefore writes into a buffer kept from the last call. On
    other devices (CUDA's caching allocator already reuses blocks) it hands
    out plain ``torch.empty`` tensors and keeps nothing.
    """

    def __init__(self) -> None:
        self._bufs: Dict[str, Tensor] = {}

    def get(self, name: str, shape: Sequence[int], like: Tensor,
            dtype: Optional[torch.dtype] = None) -> Tensor:
        dtype = dtype or like.dtype
        if like.device.type != 'cpu':
            return torch.empty(shape, dtype=dtype, device=like.device)
        numel = math.prod(shape)
        buf = self._bufs.get(name)
        if buf is None or buf.numel() < numel or buf.dtype != dtype:
            buf = self._bufs[name] = torch.empty(numel, dtype=dtype)
        return buf[:numel].view(shape)


def rgb_to_gray(x: Tensor, out: Optional[Tensor] = None,
                scale: Optional[Tensor] = None) -> Tensor:
    """``(n, 3, T, H, W)`` -> ``(n, 1, T, H, W)`` BT.601 luma, accumulated
    red, green, blue (kornia's order, so its pixels are matched bit for
    bit); ``out`` receives it if given. ``scale`` ``(n,)`` multiplies each
    clip's luma weights (the luma times ``scale`` in the same passes)."""
    w = x.new_tensor(_LUMA)
    if scale is not None:
        w = (scale.to(x.device, x.dtype, non_blocking=True)[:, None] *
             w).T.reshape(3, -1, *([1] * (x.dim() - 2)))
    r, g, b = x.unbind(1)
    if out is None:
        out = x.new_empty(x.shape[0], 1, *x.shape[2:])
    o = out[:, 0]
    torch.mul(r, w[0], out=o)
    o.addcmul_(g, w[1])
    o.addcmul_(b, w[2])
    return out


#: elements of a frame plane per tile of :func:`shift_hue`: its ~12 planes
#: (input, output, 6 scratch) then stay in the CPU caches between its ~38
#: passes (128 K: 2.6 ms for 2 clips of 16x112^2, untiled 3.9 ms)
HUE_TILE = 1 << 17


def shift_hue(x: Tensor, shift: Tensor, out: Optional[Tensor] = None,
              ws: Optional[Workspace] = None,
              tile: Optional[int] = None) -> Tensor:
    """Rotate the HSV hue of ``(n, 3, T, H, W)`` RGB in ``[0, 1]`` by
    ``shift`` ``(n,)`` turns (kornia's ``adjust_hue(x, 2 pi shift)``).

    Saturation and value are kept, so each channel of the result lies
    between the pixel's min and max: with chroma ``c = max - min`` and the
    shifted hue ``h`` in sixths of a turn, wrapped into ``[0, 6)``, channel
    ``j`` is ``min + c * clamp(|k - 2| - 1, 0, 1)`` with ``k = (h + m_j)
    mod 6`` (``m_j`` = 5, 3, 1 for R, G, B): HSV -> RGB without building
    the HSV image. ``out`` ``(n, 3, T, H, W)`` may not alias ``x``.

    Every pass writes into a reused buffer, and on the CPU the frames go
    through in tiles of about ``tile`` (default :data:`HUE_TILE`) pixels
    per plane, so the passes read from cache rather than memory.
    """
    ws = ws or Workspace()
    if out is None:
        out = torch.empty_like(x)
    shift6 = shift.to(x.device, x.dtype, non_blocking=True).mul(6.0).view(
        -1, *([1] * (x.dim() - 2)))
    for t0, size in _frame_tiles(x, tile):
        _shift_hue_tile(x.narrow(2, t0, size), shift6,
                        out.narrow(2, t0, size), ws)
    return out


def _frame_tiles(x: Tensor, tile: Optional[int] = None
                 ) -> List[Tuple[int, int]]:
    """``(start, length)`` along T of ``(n, C, T, H, W)`` ``x``: tiles of
    about ``tile`` (default :data:`HUE_TILE`) pixels per plane on the CPU,
    all T at once elsewhere."""
    n, t = x.shape[0], x.shape[2]
    step = t
    if x.device.type == 'cpu':
        frame = max(1, math.prod(x.shape[3:]))
        step = max(1, min(t, (tile or HUE_TILE) // max(1, n * frame)))
    return [(t0, min(step, t - t0)) for t0 in range(0, t, step)]


def _shift_hue_tile(x: Tensor, shift6: Tensor, out: Tensor,
                    ws: Workspace) -> None:
    """:func:`shift_hue` of ``(n, 3, t, H, W)`` by ``shift6`` sixths of a
    turn ``(n, 1, 1, 1)``, into ``out``."""
    r, g, b = x.unbind(1)
    plane = r.shape
    mx, mn, c, h, k, first = (ws.get(f'hue_{i}', plane, x)
                              for i in 'xnchkf')
    torch.maximum(r, g, out=mx)
    mx.clamp_min_(b)
    torch.minimum(r, g, out=mn)
    mn.clamp_max_(b)
    torch.sub(mx, mn, out=c)
    # hue in sixths of a turn, from the sextant of the first maximal
    # channel (kornia's rgb_to_hsv tie-break): (r - g) / c + 4 when blue is
    # the max, (b - r) / c + 2 green, (g - b) / c red. The choice is a lerp
    # with 0/1 float weights (exactly one operand for 0 and 1; half the time
    # of sub, mul and add on a tile): on the CPU a comparison into a bool
    # tensor plus torch.where cost ~5x the float arithmetic.
    torch.sub(r, g, out=h)
    h.add_(c, alpha=4.0)
    torch.sub(b, r, out=k)
    k.add_(c, alpha=2.0)
    torch.eq(g, mx, out=first)
    h.lerp_(k, first)
    torch.sub(g, b, out=k)
    torch.eq(r, mx, out=first)
    h.lerp_(k, first)
    # grey pixels: 0 / 0; their hue is irrelevant (c = 0 below)
    h.div_(c).nan_to_num_(0.0, 0.0, 0.0)
    h.add_(shift6)
    # h in [-4, 8] -> [0, 6) (torch.remainder was 8x slower here)
    torch.mul(h, 1.0 / 6.0, out=first).floor_()
    h.add_(first, alpha=-6.0)
    # k = h + m_j in [1, 11): the distance from k mod 6 to 2 wherever it is
    # under 2 (where the clamp above cuts) is the distance from k to the
    # nearer of 2 and 8, ||u| - 3| with u = k - 5 = h + (0, -2, -4), so no
    # second wrap is needed; and min + c clamp(d - 1, 0, 1) =
    # (min - c) + c clamp(d, 1, 2), one pass fewer per channel
    base = mn.sub_(c)
    for j, offset in enumerate((0.0, -2.0, -4.0)):
        if offset:
            torch.add(h, offset, out=k).abs_()
        else:
            torch.abs(h, out=k)
        k.sub_(3.0).abs_().clamp_(1.0, 2.0)
        torch.addcmul(base, c, k, out=out[:, j])


class _Op:
    """One augmentation: ``draw(n)`` the CPU parameters of n clips, then
    ``apply(x, params, ws)`` them to ``(n, C, T, H, W)``."""
    name = ''

    def __init__(self, p: float) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f'{self.name}: p must be in [0, 1], got {p}')
        self.p = float(p)

    def _chosen(self, n: int) -> Tensor:
        return torch.rand(n) < self.p

    def draw(self, n: int) -> Dict[str, Tensor]:
        raise NotImplementedError

    def apply(self, x: Tensor, params: Dict[str, Tensor],
              ws: Workspace) -> Tensor:
        """Writes into ``x`` (the caller passes its own copy)."""
        raise NotImplementedError

    @staticmethod
    def _subset(x: Tensor, chosen: Tensor, ws: Workspace,
                name: str) -> Tuple[Tensor, Tensor, Tensor]:
        """The chosen clips of ``x`` copied into a buffer: (CPU indices,
        device indices, ``(m, C, T, H, W)``)."""
        sel = chosen.nonzero()[:, 0]
        idx = sel.to(x.device, non_blocking=True)
        y = ws.get(name, (sel.numel(), *x.shape[1:]), x)
        torch.index_select(x, 0, idx, out=y)
        return sel, idx, y

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v}' for k, v in vars(self).items())
        return f'{self.name}({args})'


class _ColorJitter(_Op):
    """kornia ``ColorJitter`` (torchvision's formulas): brightness
    ``clamp(f x)``, contrast ``clamp(f x + (1 - f) mean(grey))`` (the mean
    over the frame's pixels), saturation ``clamp(f x + (1 - f) grey)``, hue
    shifted by ``f`` turns; factors uniform in the ranges, a random order of
    the four per clip."""
    name = 'ColorJitter'
    NEUTRAL = (1.0, 1.0, 1.0, 0.0)

    def __init__(self, brightness: Range = 0.0, contrast: Range = 0.0,
                 saturation: Range = 0.0, hue: Range = 0.0,
                 p: float = 1.0) -> None:
        super().__init__(p)
        inf = float('inf')
        self.ranges = (
            _as_range(brightness, 'ColorJitter.brightness', 1.0, (0, inf)),
            _as_range(contrast, 'ColorJitter.contrast', 1.0, (0, inf)),
            _as_range(saturation, 'ColorJitter.saturation', 1.0, (0, inf)),
            _as_range(hue, 'ColorJitter.hue', 0.0, (-0.5, 0.5)))

    def draw(self, n: int) -> Dict[str, Tensor]:
        chosen = self._chosen(n)
        factors = torch.stack([_uniform(lo, hi, n) for lo, hi in self.ranges],
                              1)
        neutral = torch.tensor(self.NEUTRAL).expand(n, 4)
        factors = torch.where(chosen[:, None], factors, neutral)
        # a uniformly random permutation of (0, 1, 2, 3) per clip
        order = torch.rand(n, 4).argsort(1)
        return dict(chosen=chosen, factors=factors, order=order)

    def apply(self, x: Tensor, params: Dict[str, Tensor],
              ws: Workspace) -> Tensor:
        chosen, factors, order = (params['chosen'], params['factors'],
                                  params['order'])
        if not bool(chosen.any()):
            return x
        # kornia clamps the jittered images' input to [0, 1]
        x.clamp_(0.0, 1.0)
        # A clip's order is its three blends (0, 1, 2) with the hue (3)
        # inserted at position `at`: blend pass i does every clip's i-th
        # blend, and the hue of the clips with at == i runs before it.
        at = (order == 3).int().argmax(1)
        blends = order[order != 3].view(-1, 3)
        shift = factors[:, 3]
        for i in range(4):
            hue = chosen & (at == i) & (shift != 0)
            if bool(hue.any()):
                self._hue(x, hue, shift, ws)
            if i < 3:
                op = blends[:, i]
                f = factors.gather(1, op[:, None])[:, 0]
                if bool((f != 1).any()):
                    self._blend(x, f, op, ws)
        return x

    @staticmethod
    def _hue(x: Tensor, hue: Tensor, shift: Tensor, ws: Workspace) -> None:
        """Shift the hue of the clips ``hue`` ``(n,)`` of ``x`` in place,
        tile by tile of frames (:func:`shift_hue`'s tiles): each tile's
        clips are gathered, shifted and put back while in cache."""
        sel = hue.nonzero()[:, 0]
        idx = sel.to(x.device, non_blocking=True)
        shift6 = _bcast(shift[sel] * 6.0, x)[:, 0]
        sub = x[:1].expand(sel.numel(), *x.shape[1:])  # tiles of the subset
        for t0, size in _frame_tiles(sub):
            xt = x.narrow(2, t0, size)
            shape = (sel.numel(), *xt.shape[1:])
            y = ws.get('jitter_in', shape, x)
            torch.index_select(xt, 0, idx, out=y)
            out = ws.get('jitter_out', shape, x)
            _shift_hue_tile(y, shift6, out, ws)
            xt.index_copy_(0, idx, out)

    @staticmethod
    def _blend(x: Tensor, f: Tensor, op: Tensor, ws: Workspace) -> None:
        """In place ``clamp(f x + (1 - f) g)`` per clip; ``g`` = 0
        (brightness), the frame's mean grey (contrast) or the pixel's grey
        (saturation). ``f = 1`` leaves a clip bit for bit unchanged."""
        fb = _bcast(f, x)
        con, sat = op == 1, op == 2
        if bool((con | sat).any()):
            shape = (x.shape[0], 1, *x.shape[2:])
            # g = (1 - f) grey (saturation) or (1 - f) mean grey (contrast),
            # 0 for brightness: (1 - f) folded into the luma weights; the
            # contrast clips' pixels then zeroed and their frame mean added
            # (a 0/1 lerp does the same in one pass, but torch's lerp with
            # broadcast operands ran ~8x slower than these two)
            g = rgb_to_gray(x, ws.get('blend', shape, x),
                            scale=(con | sat).float() * (1.0 - f))
            if bool(con.any()):
                mean = g.mean((-2, -1), keepdim=True)
                g.mul_(_bcast(sat.float(), x))
                g.add_(mean.mul_(_bcast(con.float(), x)))
            torch.addcmul(g, x, fb, out=x)
        else:
            x.mul_(fb)
        x.clamp_(0.0, 1.0)


class _Grayscale(_Op):
    """kornia ``RandomGrayscale``: the BT.601 luma in every channel."""
    name = 'RandomGrayscale'

    def __init__(self, p: float = 0.1) -> None:
        super().__init__(p)

    def draw(self, n: int) -> Dict[str, Tensor]:
        return dict(chosen=self._chosen(n))

    def apply(self, x: Tensor, params: Dict[str, Tensor],
              ws: Workspace) -> Tensor:
        chosen = params['chosen']
        if not bool(chosen.any()):
            return x
        sel, idx, y = self._subset(x, chosen, ws, 'gray_in')
        gray = rgb_to_gray(y, ws.get('gray', (y.shape[0], 1, *y.shape[2:]),
                                     y))
        return x.index_copy_(0, idx, gray.expand_as(y))


class _GaussianBlur(_Op):
    """kornia ``RandomGaussianBlur``: sigma uniform in ``sigma`` per clip,
    the same for both axes; normalised Gaussian taps at ``i - k // 2``;
    separable, reflect padding."""
    name = 'RandomGaussianBlur'

    def __init__(self, kernel_size: Union[int, Sequence[int]],
                 sigma: Sequence[float], border_type: str = 'reflect',
                 separable: bool = True, p: float = 0.5) -> None:
        super().__init__(p)
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) \
            else tuple(kernel_size)
        if len(ks) != 2 or any(k < 1 or k % 2 == 0 for k in ks):
            raise ValueError(f'RandomGaussianBlur.kernel_size must be odd '
                             f'and positive, got {kernel_size!r}')
        if border_type != 'reflect':
            raise ValueError(f'RandomGaussianBlur: only border_type='
                             f'"reflect" is batched, got {border_type!r}; '
                             f'use video_aug_impl="kornia"')
        self.kernel_size = ks
        self.sigma = _as_range(sigma, 'RandomGaussianBlur.sigma', None,
                               (1e-12, float('inf')))

    def draw(self, n: int) -> Dict[str, Tensor]:
        return dict(chosen=self._chosen(n), sigma=_uniform(*self.sigma, n))

    @staticmethod
    def kernel(sigma: Tensor, size: int) -> Tensor:
        """``(n,)`` sigmas -> ``(n, size)`` normalised Gaussian taps."""
        pos = torch.arange(size, dtype=sigma.dtype) - size // 2
        w = torch.exp(-pos[None] ** 2 / (2.0 * sigma[:, None] ** 2))
        return w / w.sum(1, keepdim=True)

    @staticmethod
    def _reflect(xp: Tensor, dim: int, r: int) -> None:
        """Fill the ``r`` border rows of ``xp`` along ``dim`` around its
        interior by reflection (the edge row not repeated): x[r..1] | x |
        x[-2..-r-1]."""
        if r:
            size = xp.shape[dim] - 2 * r
            xp.narrow(dim, 0, r).copy_(xp.narrow(dim, r + 1, r).flip(dim))
            xp.narrow(dim, r + size, r).copy_(
                xp.narrow(dim, size - 1, r).flip(dim))

    def apply(self, x: Tensor, params: Dict[str, Tensor],
              ws: Workspace) -> Tensor:
        chosen = params['chosen']
        if not bool(chosen.any()):
            return x
        kh, kw = self.kernel_size
        n, c, t, h, w = x.shape
        rh, rw = kh // 2, kw // 2
        if h <= rh or w <= rw:
            raise ValueError(f'RandomGaussianBlur: kernel {self.kernel_size} '
                             f'needs frames larger than its radius, got '
                             f'{h}x{w}')
        sel = chosen.nonzero()[:, 0]
        m, idx = sel.numel(), sel.to(x.device, non_blocking=True)
        sigma = params['sigma'][sel]
        # the chosen clips go straight into the interior of a buffer padded
        # on both axes, the border filled by reflection: no pad copies
        xp = ws.get('blur_pad', (m, c, t, h + 2 * rh, w + 2 * rw), x)
        torch.index_select(x, 0, idx, out=xp.narrow(3, rh, h).narrow(4, rw, w))
        self._reflect(xp, 3, rh)
        self._reflect(xp, 4, rw)
        # Every frame plane is a channel of one depthwise convolution with
        # its clip's kernel (groups = m * C * T); oneDNN runs the taps of a
        # (k, 1) and a (1, k) kernel in one pass each, where k passes of
        # shifted multiply-adds went through memory k times (~1.5x slower
        # here). The vertical pass also blurs the padding columns, which
        # are then the reflection of its output: the horizontal pass needs
        # no second padding.
        planes = m * c * t

        def weights(size: int, shape: Tuple[int, int]) -> Tensor:
            # clip i's taps for its planes i * C * T ... (i + 1) * C * T - 1
            taps = self.kernel(sigma, size).to(x.device, x.dtype,
                                               non_blocking=True)
            return taps.repeat_interleave(c * t, 0).view(planes, 1, *shape)

        y = F.conv2d(xp.view(1, planes, h + 2 * rh, w + 2 * rw),
                     weights(kh, (kh, 1)), groups=planes)
        y = F.conv2d(y, weights(kw, (1, kw)), groups=planes)
        return x.index_copy_(0, idx, y.view(m, c, t, h, w))


class _Solarize(_Op):
    """kornia ``RandomSolarize``: ``x' = clamp(x + a)``, then
    ``x'`` below the threshold and ``1 - x'`` from it on; threshold uniform
    around 0.5, addition around 0 (a scalar v: ``+-v``)."""
    name = 'RandomSolarize'

    def __init__(self, thresholds: Range = 0.1, additions: Range = 0.1,
                 p: float = 0.5) -> None:
        super().__init__(p)
        self.thresholds = _as_range(thresholds, 'RandomSolarize.thresholds',
                                    0.5, (0.0, 1.0))
        self.additions = _as_range(additions, 'RandomSolarize.additions',
                                   0.0, (-0.5, 0.5))

    def draw(self, n: int) -> Dict[str, Tensor]:
        return dict(chosen=self._chosen(n),
                    thresholds=_uniform(*self.thresholds, n),
                    additions=_uniform(*self.additions, n))

    def apply(self, x: Tensor, params: Dict[str, Tensor],
              ws: Workspace) -> Tensor:
        chosen = params['chosen']
        if not bool(chosen.any()):
            return x
        sel, idx, y = self._subset(x, chosen, ws, 'solarize_in')
        y.clamp_(0.0, 1.0).add_(_bcast(params['additions'][sel], y))
        y.clamp_(0.0, 1.0)
        y = torch.where(y < _bcast(params['thresholds'][sel], y), y, 1.0 - y)
        return x.index_copy_(0, idx, y)


_OPS = {op.name: op for op in (_ColorJitter, _Grayscale, _GaussianBlur,
                                _Solarize)}


@MODELS.register_module()
class BatchedVideoAug(nn.Module):
    """Photometric video augmentation in whole-batch tensor operations.

    Drop-in for ``kornia.augmentation.VideoSequential(*augs,
    data_format='BCTHW', same_on_frame=True)`` built from the same configs:
    each clip draws its own parameters (and whether each op applies, with
    the op's ``p``), shared by its frames, anew on every call (so per view
    in :class:`AVDataPreprocessor`). Ops run in the listed order. See the
    module docstring for what is batched by torch ops and what is written
    here; ``tests/models/data_preprocessors/test_video_augment.py`` checks
    the distributions against kornia's on identical inputs.

    Args:
        transforms (list[dict]): ``dict(type=NAME, **kornia_args)``, NAME
            one of ``ColorJitter`` (brightness, contrast, saturation, hue,
            p), ``RandomGrayscale`` (p), ``RandomGaussianBlur``
            (kernel_size, sigma, border_type='reflect', p),
            ``RandomSolarize`` (thresholds, additions, p).

    Shape:
        ``(B, C, T, H, W)`` float in ``[0, 1]`` (C = 3 for the colour ops)
        -> the same shape; the input is not modified.
    """

    def __init__(self, transforms: List[Dict]) -> None:
        super().__init__()
        self._ws = Workspace()
        self.ops: List[_Op] = []
        for cfg in transforms:
            cfg = dict(cfg)
            name = cfg.pop('type', None)
            if name not in _OPS:
                raise ValueError(
                    f'video_aug: {name!r} has no batched version (known: '
                    f'{sorted(_OPS)}); use video_aug_impl="kornia" for '
                    f'other kornia.augmentation classes')
            if cfg.pop('same_on_batch', False):
                raise ValueError(f'video_aug {name}: same_on_batch=True '
                                 f'is not batched; use video_aug_impl='
                                 f'"kornia"')
            try:
                self.ops.append(_OPS[name](**cfg))
            except TypeError as err:
                raise TypeError(f'video_aug {name}: {err}') from None

    def draw(self, batch: int) -> List[Dict[str, Tensor]]:
        """CPU parameters of every op for ``batch`` clips."""
        return [op.draw(batch) for op in self.ops]

    # Always eager, also inside a torch.compile'd caller (mmengine's
    # compile=True wraps the whole train_step). Which clips an op touches
    # is data (bool(), nonzero()): traced, one call of the MoCo
    # augmentation became 30 graphs with 14 breaks, recompiled whenever the
    # numbers of chosen clips changed (inductor, CPU, torch 2.9.1: 52 s,
    # 5 s and 16 s for the first three calls), for no gain over these
    # hand-fused passes. And inductor miscompiled an earlier form of the
    # contrast blend (pixels off by up to 0.2): after an in-place
    # ``g.add_(c)`` on a graph input ``g`` (n, 1, L) with ``c`` (n, 1, 1),
    # a later ``g * x`` broadcasting ``g`` over x's (n, 3, L) read the old
    # ``g``; the in-place style of these passes invites more of that.
    @torch.compiler.disable
    def forward(self, x: Tensor,
                params: Optional[List[Dict[str, Tensor]]] = None,
                inplace: bool = False) -> Tensor:
        """``(B, C, T, H, W)`` -> augmented ``(B, C, T, H, W)``.

        Args:
            x: float video in ``[0, 1]``.
            params: from :meth:`draw`, replays a draw (None: draw now).
            inplace: write into ``x`` (the data preprocessor's own tensor)
                instead of a copy.
        """
        if x.dim() != 5:
            raise ValueError(f'BatchedVideoAug expects (B, C, T, H, W), got '
                             f'{tuple(x.shape)}')
        if params is None:
            params = self.draw(x.shape[0])
        if not inplace or not x.is_contiguous():
            x = x.clone(memory_format=torch.contiguous_format)
        for op, prm in zip(self.ops, params):
            x = op.apply(x, prm, self._ws)
        return x

    def extra_repr(self) -> str:
        return ', '.join(map(repr, self.ops))
