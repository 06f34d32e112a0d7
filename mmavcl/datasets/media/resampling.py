"""Band-limited resampling of mono audio (a cached polyphase
Kaiser-windowed sinc, libswresample's filter) and playing audio faster
(:func:`play_at_speed`, :func:`time_compress`), which is resampling too."""
import contextlib
import math
from collections import OrderedDict
from typing import Callable, Optional, Tuple

import numpy as np

__all__ = [
    'COMMON_SAMPLE_RATES', 'resample', 'sinc_resample_kernel',
    'time_compress', 'play_at_speed'
]


#: Sample rates (Hz) of nearly all recorded and encoded audio. Toward the
#: usual output rates their filters are small (44100 -> 16000 Hz: 160
#: phases of 94 taps), while another rate can reduce to a ratio with one
#: phase per output sample (44101 -> 16000 Hz: 16000 phases), which
#: :func:`resample` handles on a slower bounded path.
#: ``tools/data/check_dataset.py`` reports files at other rates.
COMMON_SAMPLE_RATES = frozenset({
    8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200,
    96000
})


class _BoundedCache:
    """Least-recently-used map whose values together stay within
    ``max_bytes``. A DataLoader worker lives for the whole run, so an
    unbounded cache would grow with every rate pair the worker meets (and
    one odd rate's dense kernel alone took 2.8 GB)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self._items: 'OrderedDict' = OrderedDict()

    def __contains__(self, key) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self.nbytes = 0

    def get(self, key, build: Callable[[], tuple], nbytes: int):
        """The value of ``key``; if absent ``build()``, kept (dropping the
        least recently used values) unless ``nbytes`` alone exceeds the
        bound."""
        item = self._items.get(key)
        if item is not None:
            # tolerant of another thread dropping it meanwhile
            with contextlib.suppress(KeyError):
                self._items.move_to_end(key)
            return item[0]
        value = build()
        if nbytes <= self.max_bytes:
            while self._items and self.nbytes + nbytes > self.max_bytes:
                self.nbytes -= self._items.popitem(last=False)[1][1]
            self._items[key] = (value, nbytes)
            self.nbytes += nbytes
        return value


#: Size limits of the resampling kernels. A rate pair ``orig -> new``
#: reduces to ``o -> n`` (divided by their gcd), and its filter has ``n``
#: phases of ``K`` taps: a table of ``n * K`` floats, and for
#: single-threaded torch a dense conv1d weight of about ``n * (o + K)``.
#: Larger tables or weights are never built: a pair beyond
#: ``_MAX_DENSE_BYTES`` gathers with its table, one beyond
#: ``_MAX_TABLE_BYTES`` computes its taps output by output
#: (:func:`_resample_gather`). Every pair used by a common rate, and by
#: :func:`play_at_speed`'s sped-up views of them, stays below
#: both.
_MAX_DENSE_BYTES = 8 << 20
_MAX_TABLE_BYTES = 8 << 20
#: (orig, new) -> sinc_resample_kernel(orig, new), built once per rate pair
_KERNELS = _BoundedCache(16 << 20)
#: (orig, new) -> (conv1d weight, left pad) for single-threaded torch
_DENSE = _BoundedCache(16 << 20)
#: above this many phases the multi-threaded path's Python loop over the
#: phases costs more than one gather of every output's window
_MAX_LOOP_PHASES = 1024
#: floats per gather chunk (windows and taps of ~2800 outputs of 94 taps):
#: one chunk's temporaries (taps computed in float64) stay near 10 MB
#: whatever the input length
_GATHER_FLOATS = 1 << 18


def sinc_resample_kernel(orig: int, new: int, zero_crossings: int = 16,
                         rolloff: float = 0.97, beta: float = 9.0
                         ) -> Tuple[np.ndarray, np.ndarray, int, int]:
    """Polyphase taps of a Kaiser-windowed-sinc resampler.

    With ``o = orig / g``, ``n = new / g`` (``g = gcd``), output sample
    ``k = m * n + p`` sits at input position ``x = m * o + p * o / n`` and

        y[k] = sum_j s[j] * h(x - j),
        h(t) = 2 f_c sinc(2 f_c t) * I0(beta sqrt(1 - (t / T)^2)) / I0(beta)

    for ``|t| <= T = zero_crossings / (2 f_c)`` (else 0), with cut-off
    ``f_c = rolloff * min(o, n) / (2 o)`` cycles per input sample. The
    defaults are libswresample's (``filter_size=32``: 16 zero crossings a
    side, ``cutoff=0.97``, Kaiser ``beta=9``), which the frame-by-frame
    PyAV path used before: outputs agree to ~2e-4 (-74 dB).

    Returns:
        ``(taps, starts, o, n)``: float32 ``(n, K)`` and int64 ``(n,)``:
        output ``m * n + p`` is ``taps[p] . s[m * o + starts[p] :][:K]``.
    """
    design = _filter_design(orig, new, zero_crossings, rolloff)
    n, k = design[1], 2 * design[4] + 2
    # rows in chunks: the float64 temporaries of all 16000 phases of an
    # odd rate at once took ~110 MB
    rows = max(_GATHER_FLOATS // k, 1)
    parts = [
        _phase_taps(np.arange(r, min(r + rows, n)), design, beta,
                    _torch_i0) for r in range(0, n, rows)
    ]
    return (np.concatenate([t for t, _ in parts]),
            np.concatenate([s for _, s in parts]), design[0], n)


def _filter_design(orig: int, new: int, zero_crossings: int = 16,
                   rolloff: float = 0.97
                   ) -> Tuple[int, int, float, float, int]:
    """``(o, n, f_c, T, w)`` of :func:`sinc_resample_kernel`'s filter: the
    reduced rates, the cut-off (cycles per input sample), the half width
    ``T`` (input samples) and ``w = ceil(T)``; each phase has
    ``2 * w + 2`` taps. Cheap: the sizes of tables are known before
    building them."""
    g = math.gcd(int(orig), int(new))
    o, n = int(orig) // g, int(new) // g
    fc = 0.5 * rolloff * min(o, n) / o
    half = zero_crossings / (2 * fc)
    return o, n, fc, half, int(math.ceil(half))


def _torch_i0(x: np.ndarray) -> np.ndarray:
    # ~4x faster than np.i0 (measured 68 vs 278 ms for 1.5M values); the
    # float32 taps of every common rate -> 16 kHz (also at 2x and 3x
    # speed) came out bit-identical to np.i0's
    import torch
    return torch.special.i0(torch.from_numpy(x)).numpy()


def _phase_taps(phases: np.ndarray, design: tuple, beta: float = 9.0,
                i0: Callable = np.i0) -> Tuple[np.ndarray, np.ndarray]:
    """Taps (float32 ``(len(phases), 2w + 2)``) and first-tap offsets
    (int64) of the given phases of ``design`` (:func:`_filter_design`);
    see :func:`sinc_resample_kernel`."""
    o, n, fc, half, w = design
    frac = phases * (o / n)
    starts = np.floor(frac).astype(np.int64) - w
    t = frac[:, None] - (starts[:, None] + np.arange(2 * w + 2)[None, :])
    arg = beta * np.sqrt(np.clip(1.0 - (t / half)**2, 0.0, None))
    h = 2 * fc * np.sinc(2 * fc * t) * i0(arg) / np.i0(beta)
    return (h * (np.abs(t) <= half)).astype(np.float32), starts


def _dense_kernel(table: tuple):
    """The taps of every phase at their offsets in one window of the
    input, as a ``conv1d`` weight ``(n, 1, width)``; and the left pad.
    ``table``: :func:`sinc_resample_kernel`'s result."""
    import torch
    taps, starts, o, n = table
    left = int(-starts.min())
    width = left + int(starts.max()) + taps.shape[1]
    dense = np.zeros((n, 1, width), np.float32)
    for p in range(n):
        first = left + int(starts[p])
        dense[p, 0, first:first + taps.shape[1]] = taps[p]
    return torch.from_numpy(dense), left


def _window(wave: np.ndarray, lo: int, size: int) -> np.ndarray:
    """float32 ``wave[lo:lo + size]`` with zeros where it leaves ``wave``."""
    out = np.zeros(size, np.float32)
    a, b = max(lo, 0), min(lo + size, len(wave))
    if b > a:
        out[a - lo:b - lo] = wave[a:b]
    return out


def resample(wave: np.ndarray,
             orig: int,
             new: int,
             first: int = 0,
             length: Optional[int] = None) -> np.ndarray:
    """float32 ``(N,)`` at ``orig`` Hz -> ``(length,)`` at ``new`` Hz;
    output sample ``k`` is the band-limited input at input position
    ``first + k * orig / new`` (zeros outside the input). By default
    ``first = 0`` and ``length = ceil(N * new / orig)``: the whole input.

    ``first``/``length`` cut a window without resampling the rest, with
    the filter reading real input on both sides of it. Playing audio
    ``s`` times faster is this call with ``orig = s * rate``: output ``k``
    sits ``s * rate / new`` source samples after output ``k - 1``, and the
    anti-alias cut-off follows the new rate.

    The same filter as ``torchaudio.transforms.Resample`` (checked against
    it in ``tests/datasets/test_fast_decoding.py``), written here because
    torchaudio is an optional extra (``.[audio]``) while audio decoding
    needs only PyAV. The taps are cached per rate pair
    (:func:`sinc_resample_kernel`), so a call has no set-up (a
    libswresample filter graph takes 1-3 ms to build). Where torch runs
    single-threaded (DataLoader workers: PyTorch sets 1 thread each) all
    phases are one strided ``conv1d`` (~0.6 ms for 1.5 s of 44.1 kHz
    audio); elsewhere each phase is one ``einsum`` over strided windows
    (~1.3 ms), because multi-threaded kernels stall on a busy machine
    (measured 30 ms for that conv1d with 2 threads, and 24 ms for an
    OpenBLAS matmul, under load). Both agree to ~1e-7.

    Rates outside :data:`COMMON_SAMPLE_RATES` may reduce to a ratio with
    thousands of phases (44101 -> 16000 Hz: 16000), whose dense weight
    would take gigabytes (2.8 GB, 2-12 s a call). Such pairs gather each
    output's input window in bounded chunks instead (:func:`_resample_gather`,
    same filter): with the cached phase table up to ``_MAX_TABLE_BYTES``,
    beyond it with taps computed per output. Nothing larger than those
    limits is built, and the caches keep at most 16 MB each.
    """
    key = (int(orig), int(new))
    if length is None:
        length = -(-(len(wave) - first) * key[1] // key[0])
    length = max(int(length), 0)
    if key[0] == key[1] or length == 0:
        return _window(wave, first, length)
    design = _filter_design(*key)
    o, n, w = design[0], design[1], design[4]
    k = 2 * w + 2
    table_bytes = n * (4 * k + 8)
    if table_bytes > _MAX_TABLE_BYTES:
        return _resample_gather(
            wave, first, length, o, n, k,
            lambda p: _phase_taps(p, design, i0=_torch_i0))
    table = _KERNELS.get(key, lambda: sinc_resample_kernel(*key),
                         table_bytes)
    taps, starts = table[0], table[1]
    blocks = -(-length // n)
    import torch
    single = torch.get_num_threads() == 1
    # the dense weight's width: left pad (w) + the last phase's offset + K
    dense_bytes = 4 * n * ((n - 1) * o // n + k + 1)
    if single and dense_bytes <= _MAX_DENSE_BYTES:
        weight, left = _DENSE.get(key, lambda: _dense_kernel(table),
                                  dense_bytes)
        padded = _window(wave, first - left,
                         (blocks - 1) * o + weight.shape[-1])
        with torch.no_grad():
            out = torch.nn.functional.conv1d(
                torch.from_numpy(padded)[None, None], weight, stride=o)[0]
        return out.T.reshape(-1)[:length].numpy()
    if single or n > _MAX_LOOP_PHASES:
        return _resample_gather(wave, first, length, o, n, k,
                                lambda p: (taps[p], starts[p]))
    left = int(-starts.min())
    padded = _window(wave, first - left, left + blocks * o + k + 2)
    windows = np.lib.stride_tricks.sliding_window_view(padded, k)
    out = np.empty((blocks, n), np.float32)
    for p in range(n):
        first_tap = left + int(starts[p])
        out[:, p] = np.einsum('mt,t->m', windows[first_tap::o][:blocks],
                              taps[p])
    return out.reshape(-1)[:length]


def _resample_gather(wave: np.ndarray, first: int, length: int, o: int,
                     n: int, k: int, taps_of: Callable) -> np.ndarray:
    """:func:`resample` for ratios with many phases, in bounded memory.

    Output ``j = m * n + p`` is ``taps . wave[first + m * o + start:][:k]``
    with ``(taps, start)`` of phase ``p`` from ``taps_of(phases)`` (rows of
    the cached table, or computed for just these outputs). Outputs are
    taken in chunks of ``_GATHER_FLOATS / k``: each chunk copies its
    outputs' input windows (overlapping, ``k`` samples each) and takes one
    row-wise dot product, so neither a dense weight nor a per-phase loop
    (16000 Python iterations for 44101 Hz) is needed.
    """
    out = np.empty(length, np.float32)
    step = max(_GATHER_FLOATS // k, 1)
    for c0 in range(0, length, step):
        j = np.arange(c0, min(c0 + step, length), dtype=np.int64)
        m, p = np.divmod(j, n)
        taps, starts = taps_of(p)
        pos = m * o + starts
        lo = int(pos.min())
        seg = _window(wave, first + lo, int(pos.max()) - lo + k)
        windows = np.lib.stride_tricks.sliding_window_view(seg, k)[pos - lo]
        out[c0:c0 + len(j)] = np.einsum('ck,ck->c', windows, taps)
    return out


def _lowpass_taps(cutoff: float, taps_per_octave: int = 16) -> np.ndarray:
    """Hann-windowed-sinc low-pass taps (odd length, unit DC gain);
    ``cutoff`` in cycles/sample (<0.5)."""
    half = int(np.ceil(taps_per_octave / (2 * cutoff)))
    n = np.arange(-half, half + 1)
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hanning(len(n))
    return h / h.sum()


def _lowpass(wave: np.ndarray, cutoff: float,
             taps_per_octave: int = 16) -> np.ndarray:
    """Hann-windowed-sinc low-pass; ``cutoff`` in cycles/sample (<0.5)."""
    h = _lowpass_taps(cutoff, taps_per_octave)
    return np.convolve(wave, h, mode='same').astype(np.float32)


def time_compress(wave: np.ndarray, speed: float, length: int) -> np.ndarray:
    """Play ``wave`` ``speed`` times faster, as frame skipping does to video.

    Output sample ``k`` is input at position ``k * speed`` (linear
    interpolation) after an anti-alias low-pass at ``0.45 / speed``
    cycles/sample, so pitch rises by ``speed`` like a fast-forwarded tape.

    For an integer speed the positions are whole samples, so the low-pass
    is evaluated only there (every ``speed``-th sample, strided windows):
    the same numbers as filtering everything and picking, at ``1/speed``
    of the cost (speed 8 on 5 s of 16 kHz audio: ~0.6 vs ~4 ms).

    Args:
        wave: float32 ``(N,)``, ``N >= length * speed`` ideally.
        speed: Factor > 0 (1 = unchanged).
        length: Output length L.

    Returns:
        float32 ``(L,)``.
    """
    if speed == 1:
        return wave[:length]
    if speed > 1 and float(speed).is_integer():
        h = _lowpass_taps(0.45 / speed)
        half, n, s = len(h) // 2, len(wave), int(speed)
        if n >= len(h) and length > 0:
            # np.convolve(wave, h, 'same')[i] = sum_j h[j] wave[i + half - j]
            padded = np.zeros(n + 2 * half, np.float64)
            padded[half:half + n] = wave
            windows = np.lib.stride_tricks.sliding_window_view(
                padded, len(h))
            inside = min(length, (n - 1) // s + 1)
            out = np.empty(length, np.float32)
            out[:inside] = np.einsum('lm,m->l', windows[::s][:inside],
                                     h[::-1])
            # np.interp holds the last sample past the end
            out[inside:] = np.float32(windows[n - 1] @ h[::-1])
            return out
    src = _lowpass(wave, 0.45 / speed) if speed > 1 else wave
    pos = np.arange(length) * float(speed)
    return np.interp(pos, np.arange(len(src)), src).astype(np.float32)


#: largest polyphase kernel (phases x input step) :func:`play_at_speed`
#: builds for a speed; odd speeds (no small common rate) take the
#: resample-then-:func:`time_compress` path instead
_MAX_KERNEL = 1 << 20


def play_at_speed(wave: np.ndarray, rate: int, first: int, speed: float,
                  sample_rate: int, length: int) -> np.ndarray:
    """``length`` samples at ``sample_rate`` of ``wave`` played ``speed``
    times faster, from source sample ``first`` on.

    Output ``k`` is the source at position ``first + k * speed * rate /
    sample_rate``: frame skipping for audio, pitch rising by ``speed``. That
    is resampling from ``speed * rate`` Hz to ``sample_rate`` Hz
    (:func:`resample`), so a sped-up view is resampled straight
    from the source, with the anti-alias cut-off at 0.97 of its output
    Nyquist; no intermediate ``sample_rate`` signal is built. Where
    ``speed * rate`` is not a whole number of Hz (or its polyphase kernel
    would exceed ``_MAX_KERNEL`` taps), the span is resampled to
    ``sample_rate`` and compressed by :func:`time_compress`.

    Args:
        wave: float32 ``(N,)`` mono source at ``rate`` Hz.
        rate: Source rate (Hz).
        first: Source sample of output sample 0 (may lie outside
            ``wave``: zeros there).
        speed: Factor > 0 (1 = unchanged).
        sample_rate: Output rate (Hz).
        length: Output length L.

    Returns:
        float32 ``(L,)``.
    """
    virtual = rate * float(speed)
    if virtual.is_integer():
        g = math.gcd(int(virtual), int(sample_rate))
        if int(virtual) // g * (int(sample_rate) // g) <= _MAX_KERNEL:
            return resample(wave, int(virtual), sample_rate, first, length)
    src = resample(wave, rate, sample_rate, first,
                   int(math.ceil(length * speed)) + 1)
    return time_compress(src, speed, length)
