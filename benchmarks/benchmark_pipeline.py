"""Samples/s of mmavcl's data pipelines against MMAction2 and the decode floor.

For each pipeline (taken from the shipped dataset configs) and each keyframe
interval, these decode exactly the same frames of the same generated
videos, side by side in one run:

* **mmavcl**: the config's ``train_pipeline`` inside ``AVVideoDataset``;
* **decode floor**: ``decord.VideoReader`` (same threads and decode size as
  the pipeline's ``VideoInit``) + ``get_batch`` of the sorted unique frames
  the sampler chose, nothing else (no audio, no crop, no packing);
* **decode floor + audio** (pipelines with audio): the decode floor plus
  PyAV decoding the audio spans ``DecodeAudioViews`` decodes (one cheap
  open like the pipeline's, same seeks, frames dropped: no mixing,
  resampling or cutting), so the ratio shows what everything that is not
  decoding costs; with ``--audio-source sidecar``, reading the spans'
  bytes from the WAV files instead;
* **MMAction2 1.2**: ``DecordInit -> <fixed indices> -> DecordDecode ->
  RandomResizedCrop -> Resize -> Flip -> FormatShape -> PackActionInputs``,
  once for all clips (``1 pass``: the same crop for every clip, possible only
  when the clips have equal length) and once per view (``pass/view``: what
  independently augmented views cost in MMAction2).

How the frames are matched: a planning pass runs ``VideoInit`` + the view
sampler with ``np.random.seed(seed + k)`` for sample ``k`` and records every
view's ``frame_inds``. The mmavcl dataset seeds NumPy the same way before
running its pipeline (the sampler is the first transform that draws), and
the benchmark checks that the packed ``view_meta`` carries the planned
indices. The floor and MMAction2 replay the plan (MMAction2 through a
fixed-index sampler defined here in place of ``SampleFrames``).

MMAction2 runs without ``ColorJitter``: MMAction2 1.2.0's ``ColorJitter``
raises ``OverflowError`` in ``adjust_hue`` under numpy 2. mmavcl does colour
augmentation on the device (``AVDataPreprocessor``), so neither side does it.

Output: one line per comparison, ``<pipeline> vs <reference>: <ratio>x``
(ratio = mmavcl samples/s / reference samples/s) for 0 and N workers, plus
a table of samples/s and frames decoded per sample (keyframe to last needed
frame, summed over passes; for mmavcl's PyAV reader, what it really decoded:
it drops the unreferenced frames it will not return).

    python benchmarks/benchmark_pipeline.py [--num-videos 4] [--iters 24]
        [--workers 2] [--keyints 30 250] [--pipelines ssl_2clip_av vclr ...]
    python benchmarks/benchmark_pipeline.py ... --audio-source sidecar
        # audio from 16 kHz mono WAVs made by tools/data/extract_audio.py
    python benchmarks/benchmark_pipeline.py ... --reencode 128 16
        # + tools/data/reencode_videos.py's speed-up on the same videos
    python benchmarks/benchmark_pipeline.py ... --video-backend decord
        # mmavcl's pipelines with decord instead of their configs' PyAV
    python benchmarks/benchmark_pipeline.py --memory   # see
        benchmarks/benchmark_memory.py
"""
import argparse
import copy
import os
import os.path as osp
import tempfile
import time
import warnings
import wave
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from bench_utils import (ROOT, SeededSet, add_video_args,
                         alternating_workers, import_script,
                         interleaved_in_process, make_videos, write_list)

#: name -> (dataset config, mmaction2 reference modes)
PIPELINES = {
    'ssl_2clip_av': ('configs/_base_/datasets/k400_ssl_2clip_av.py',
                     ('1 pass', 'pass/view')),
    # the same without its audio: isolates what the audio costs
    'ssl_2clip_video': ('configs/_base_/datasets/k400_ssl_2clip_av.py',
                        ('1 pass', )),
    'vclr_segments': ('configs/_base_/datasets/k400_vclr_segments.py',
                      ('pass/view', )),
    'ctrlaug_global_local':
    ('configs/_base_/datasets/k400_ctrlaug_global_local.py', ('pass/view', )),
    'avtss_pairs': ('configs/_base_/datasets/k400_avtss_pairs.py',
                    ('pass/view', )),
}
DEFAULT_PIPELINES = ('ssl_2clip_av', 'vclr_segments', 'ctrlaug_global_local',
                     'avtss_pairs')
FLOOR = 'decode floor'
FLOOR_AV = 'decode floor + audio'
MMACTION_NOTE = ('note: MMAction2 runs without ColorJitter (MMAction2 1.2.0 '
                 'ColorJitter raises OverflowError in adjust_hue under '
                 'numpy 2); mmavcl jitters colour on the device, so neither '
                 'side does it here')


# ---------------------------------------------------------------- videos
def keyframes(path: str) -> np.ndarray:
    """Display indices of the keyframes (PyAV demux, no decoding: the
    packets in presentation order, the keyframe flags counted)."""
    import av
    with av.open(path) as c:
        stream = c.streams.video[0]
        pts = [(p.pts, p.is_keyframe) for p in c.demux(stream)
               if p.pts is not None]
    pts.sort()
    return np.asarray([i for i, (_, key) in enumerate(pts) if key],
                      np.int64)


def decord_reason() -> Optional[str]:
    """None if decord imports (the decode floor and MMAction2's
    ``DecordInit`` read with it), else why the rows that need it are
    skipped."""
    from mmavcl.datasets.media import decord_available
    return None if decord_available() else 'decord is not installed'


def frames_decoded(inds: Sequence[int], keys: np.ndarray,
                   sort: bool = True) -> int:
    """Frames a seeking decoder decodes for ``inds``: from the keyframe at
    or before a wanted frame (when that keyframe lies past the current
    position, or the frame is behind it) to the frame."""
    inds = np.asarray(inds, np.int64)
    if sort:
        inds = np.unique(inds)
    pos, count = -1, 0
    for f in inds:
        k = int(keys[np.searchsorted(keys, f, side='right') - 1])
        if f <= pos or k > pos:  # seek back, or jump to a later keyframe
            count += int(f) - k + 1
        else:
            count += int(f) - pos
        pos = int(f)
    return count


# ----------------------------------------------------------------- plans
def _load_pipeline(name: str) -> List[dict]:
    """The ``train_pipeline`` of the pipeline's dataset config (without
    audio for the ``*_video`` variants)."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, PIPELINES[name][0]))
    pipeline = copy.deepcopy(cfg.train_pipeline)
    if name.endswith('_video'):
        pipeline = [t for t in pipeline if t['type'] != 'DecodeAudioViews']
        for t in pipeline:
            if 'audio' in t and t['type'].startswith('Sample'):
                t['audio'] = False
    return pipeline


def _find(pipeline: List[dict], type_name: str) -> Optional[dict]:
    for t in pipeline:
        if t.get('type') == type_name:
            return t
    return None


def _pyav_read(filename: str, inds, **kwargs):
    """The (closed) PyAV reader of ``filename`` after decoding ``inds``."""
    from mmavcl.datasets.media import PyAVVideoReader
    reader = PyAVVideoReader(filename, num_threads=1, **kwargs)
    try:
        reader.get_batch(inds)
    finally:
        reader.close()
    return reader


def pyav_frames_decoded(plan: List[dict]) -> float:
    """Mean frames the PyAV reader really decodes per sample: fewer than
    keyframe-to-last-frame, as it drops unreferenced frames it will not
    return (``PyAVVideoReader(skip_nonref=True)``)."""
    return float(np.mean([
        _pyav_read(p['filename'],
                   np.unique(np.concatenate(p['views']))).num_frames_decoded
        for p in plan]))


def decode_timings(filename: str, hwaccel: Optional[str] = None,
                   frames: int = 60, repeats: int = 3
                   ) -> Tuple[Dict[str, float], Optional[str]]:
    """Where a PyAV reader's time goes on one file, best of ``repeats``
    (ms): ``open`` (the reader: container, stream, index), ``first`` (frame
    0: the decoder's setup, on the device too with ``hwaccel``) and
    ``per_frame`` (each of the next ``frames - 1`` frames); and the pixel
    format its frames came in (``reader.frame_format``)."""
    from mmavcl.datasets.media import PyAVVideoReader
    best = dict(open=np.inf, first=np.inf, per_frame=np.inf)
    for _ in range(repeats):
        t0 = time.perf_counter()
        reader = PyAVVideoReader(filename, num_threads=1, hwaccel=hwaccel)
        try:
            t1 = time.perf_counter()
            reader.get_batch([0])
            t2 = time.perf_counter()
            n = min(frames, reader.num_frames)
            reader.get_batch(list(range(1, n)))
            t3 = time.perf_counter()
        finally:
            reader.close()
        for key, ms in (('open', t1 - t0), ('first', t2 - t1),
                        ('per_frame', (t3 - t2) / max(n - 1, 1))):
            best[key] = min(best[key], ms * 1e3)
    return best, reader.frame_format


def report_hwaccel(filename: str, device_type: str) -> bool:
    """Print whether the hardware decoder decodes ``filename``'s video: its
    frames must arrive in another pixel format than the software decoder's
    (NV12 from NVDEC), since FFmpeg falls back to software silently; and
    what opening the file, its first frame and each further frame cost on
    either decoder (:func:`decode_timings`)."""
    (hard_t, hard), (soft_t, soft) = (decode_timings(filename, h)
                                      for h in (device_type, None))
    on_device = hard != soft
    print(f'hwaccel {device_type}: the hardware decoder '
          f'{"decodes" if on_device else "does NOT decode"} the video of '
          f'{osp.basename(filename)} (frames as {hard}; software: {soft})')
    for name, t in ((device_type, hard_t), ('software', soft_t)):
        print(f'hwaccel {device_type}: {name} decoder: open {t["open"]:.1f} '
              f'ms, first frame {t["first"]:.1f} ms, then '
              f'{t["per_frame"]:.2f} ms per frame')
    return on_device


def make_plan(pipeline: List[dict], files: List[str], iters: int,
              seed: int, audio_dir: Optional[str] = None) -> List[dict]:
    """Sample ``k``: the views the mmavcl sampler draws after
    ``np.random.seed(seed + k)`` (VideoInit + sampler only, no decoding);
    the audio is read from ``audio_dir``'s WAV sidecars if given."""
    from mmavcl.registry import TRANSFORMS
    init = TRANSFORMS.build(pipeline[0])
    sampler = TRANSFORMS.build(pipeline[1])
    audio = _find(pipeline, 'DecodeAudioViews')
    audio = TRANSFORMS.build(audio) if audio else None
    plan = []
    for k in range(iters):
        f = files[k % len(files)]
        audio_file = sidecar_path(f, audio_dir) if audio_dir else f
        np.random.seed(seed + k)
        res = sampler(init(dict(filename=f, audio_filename=audio_file)))
        res['video_reader'].close()
        container = res.pop('pyav_container', None)
        if container is not None:
            container.close()
        views = [np.asarray(v['frame_inds'], np.int64)
                 for v in res['video_views']]
        spans = audio.spans_to_decode(res['audio_views'])[0] \
            if audio and res.get('audio_views') else []
        plan.append(dict(filename=f, audio_filename=audio_file, views=views,
                         audio_spans=spans,
                         source_shape=res.get('source_shape')))
    return plan


def sidecar_path(video: str, audio_dir: str) -> str:
    return osp.join(audio_dir, osp.splitext(osp.basename(video))[0] + '.wav')


def extract_sidecars(files: List[str], out_dir: str, workers: int) -> str:
    """16 kHz mono WAVs of ``files``' audio by
    ``tools/data/extract_audio.py`` (what its docs tell users to run)."""
    extract_audio = import_script('data', 'extract_audio')
    os.makedirs(out_dir, exist_ok=True)
    ann = write_list(osp.join(out_dir, 'sidecar_list.txt'),
                     [osp.basename(p) for p in files])
    if extract_audio.main(['--src', osp.dirname(files[0]), '--list', ann,
                           '--out', out_dir, '--workers',
                           str(max(workers, 1))]):
        raise RuntimeError(f'extract_audio.py failed, see {out_dir}')
    return out_dir


# -------------------------------------------------------------- datasets
class MMAVCLSet(SeededSet):
    """``AVVideoDataset`` (one line per video) with the config's pipeline;
    sample ``k`` reads video ``k % num_videos`` after
    ``np.random.seed(seed + k)``, so that the sampler reproduces the plan."""

    def __init__(self, pipeline: List[dict], files: List[str], iters: int,
                 seed: int, work_dir: str,
                 audio_dir: Optional[str] = None) -> None:
        from mmavcl.datasets import AVVideoDataset
        os.makedirs(work_dir, exist_ok=True)
        ann = write_list(osp.join(work_dir, 'bench_list.txt'),
                         [osp.basename(p) for p in files])
        prefix = dict(video=osp.dirname(files[0]))
        if audio_dir:
            prefix['audio'] = audio_dir
        super().__init__(
            AVVideoDataset(
                ann_file=ann, data_prefix=prefix,
                audio_source='sidecar' if audio_dir else 'container',
                with_label=False, pipeline=pipeline), iters, seed)


class FloorSet:
    """decord open + ``get_batch`` of the plan's sorted unique frames."""

    def __init__(self, plan: List[dict], num_threads: int) -> None:
        self.plan = plan
        self.num_threads = num_threads

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, k: int):
        import decord
        p = self.plan[k]
        kw = dict(num_threads=self.num_threads)
        if p['decode_hw'] is not None:
            kw.update(height=p['decode_hw'][0], width=p['decode_hw'][1])
        vr = decord.VideoReader(p['filename'], **kw)
        union = np.unique(np.concatenate(p['views']))
        return vr.get_batch(union.tolist()).asnumpy()


class AVFloorSet(FloorSet):
    """The decode floor plus the audio the pipeline decodes: one PyAV open
    as cheap as the pipeline's (``open_media``: keyframes only while FFmpeg
    probes), then per merged span a seek to 0.2 s before it (the decoder's
    priming, as in ``DecodeAudioViews``) and the AAC frames up to 50 ms
    past its end decoded and dropped; no mixing, resampling or cutting.
    A WAV sidecar: each span's bytes read (:mod:`wave`), no conversion."""

    def __getitem__(self, k: int):
        from mmavcl.datasets.media import open_media
        frames = super().__getitem__(k)
        p = self.plan[k]
        if p['audio_filename'] != p['filename']:
            with wave.open(p['audio_filename']) as w:
                rate = w.getframerate()
                for t0, t1 in p['audio_spans']:
                    i0 = min(max(int(t0 * rate), 0), w.getnframes())
                    w.setpos(i0)
                    w.readframes(int((t1 - t0) * rate))
            return frames
        with open_media(p['filename']) as c:
            stream = c.streams.audio[0]
            tb = float(stream.time_base)
            for t0, t1 in p['audio_spans']:
                c.seek(int(max(t0 - 0.2, 0.0) / tb), stream=stream,
                       backward=True)
                for frame in c.decode(stream):
                    if frame.time is not None and frame.time > t1 + 0.05:
                        break
        return frames


def _fixed_inds_transform():
    """An MMAction2-style sampler that sets planned ``frame_inds``."""
    from mmcv.transforms import BaseTransform

    class FixedFrameInds(BaseTransform):
        """Required keys: ``planned_inds`` (int64 ``(num_clips, clip_len)``).
        Added keys: ``frame_inds``, ``clip_len``, ``frame_interval``,
        ``num_clips`` (like MMAction2's ``SampleFrames``)."""

        def transform(self, results: Dict) -> Dict:
            inds = results['planned_inds']
            results['frame_inds'] = inds.reshape(-1)
            results['num_clips'], results['clip_len'] = inds.shape
            results['frame_interval'] = None
            return results

    return FixedFrameInds()


class MMActionSet:
    """MMAction2 1.2 producing the plan's views: one pass for all clips
    (``per_view=False``, equal clip lengths only) or one pass per view."""

    def __init__(self, plan: List[dict], crop: dict, num_threads: int,
                 per_view: bool) -> None:
        from mmaction.registry import TRANSFORMS as MMA
        from mmcv.transforms import Compose
        from mmengine.registry import DefaultScope
        size = crop.get('size', 112)
        size = (size, size) if isinstance(size, int) else tuple(size)
        # build() resolves names in the *current* default scope, which may
        # be mmavcl's in a process that already ran mmavcl code
        with DefaultScope.overwrite_default_scope('mmaction'):
            self.pipeline = Compose([
                MMA.build(dict(type='DecordInit', num_threads=num_threads)),
                _fixed_inds_transform(),
                MMA.build(dict(type='DecordDecode')),
                MMA.build(dict(type='RandomResizedCrop', area_range=tuple(
                    crop.get('scale', (0.08, 1.0))))),
                MMA.build(dict(type='Resize', scale=size, keep_ratio=False)),
                MMA.build(dict(type='Flip', flip_ratio=0.5)),
                MMA.build(dict(type='FormatShape', input_format='NCTHW')),
                MMA.build(dict(type='PackActionInputs')),
            ])
        self.plan = plan
        self.per_view = per_view

    def __len__(self) -> int:
        return len(self.plan)

    def passes(self, k: int) -> List[np.ndarray]:
        views = self.plan[k]['views']
        if self.per_view:
            return [v[None] for v in views]
        return [np.stack(views)]

    def __getitem__(self, k: int):
        f = self.plan[k]['filename']
        return [
            self.pipeline(
                dict(filename=f, planned_inds=inds, modality='RGB',
                     start_index=0)) for inds in self.passes(k)
        ]


# ---------------------------------------------------------------- checks
def check_plan(ds: MMAVCLSet, plan: List[dict], n: int = 2) -> None:
    """The mmavcl dataset must decode the planned frames."""
    for k in range(min(n, len(plan))):
        out = ds[k]
        got = [np.asarray(m['frame_inds']) for m in
               out['data_samples'].view_meta]
        want = plan[k]['views']
        if len(got) != len(want) or not all(
                np.array_equal(a, b) for a, b in zip(got, want)):
            raise RuntimeError(
                f'sample {k}: the pipeline drew other frames than the plan; '
                'does a transform before the sampler draw random numbers?')


# ------------------------------------------------------------------ main
def import_mmaction() -> Optional[str]:
    """None if MMAction2's transforms import, else the reason."""
    try:
        from mmavcl.utils.compat import patch_mmaction_wheel
        if not patch_mmaction_wheel():
            return 'mmaction2 is not installed'
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            import mmaction.datasets.transforms  # noqa: F401
            import mmaction.structures  # noqa: F401
    except Exception as err:  # any import failure means: skip
        return f'{type(err).__name__}: {err}'
    return None


def run_pipeline(name: str, files: List[str], keyint: int, args,
                 mma_reason: Optional[str], work_dir: str,
                 audio_dir: Optional[str] = None) -> List[dict]:
    """Every comparison of one pipeline on one video set (audio from the
    containers, or from ``audio_dir``'s WAV sidecars)."""
    mma_modes = PIPELINES[name][1]
    pipeline = _load_pipeline(name)
    init = _find(pipeline, 'VideoInit') or {}
    if args.video_backend:
        init['backend'] = args.video_backend
        name += f' ({args.video_backend})'
    if args.video_hwaccel:
        init.update(backend='pyav', hwaccel=args.video_hwaccel)
        name += f' ({args.video_hwaccel})'
        report_hwaccel(files[0], args.video_hwaccel)
    if not _find(pipeline, 'DecodeAudioViews'):
        audio_dir = None
    elif audio_dir:
        name += ' (wav sidecar)'
    crop = _find(pipeline, 'RandomResizedCropViews') or {}
    plan = make_plan(pipeline, files, args.iters, args.seed, audio_dir)
    resize_on_decode = bool(init.get('decode_size')
                            or init.get('decode_short_side'))
    for p in plan:
        p['decode_hw'] = p['source_shape'] if resize_on_decode else None
    threads = init.get('num_threads', 1)
    mm = MMAVCLSet(pipeline, files, args.iters, args.seed, work_dir,
                   audio_dir)
    check_plan(mm, plan)
    keys = {f: keyframes(f) for f in files}
    sets = {'mmavcl': mm}
    if decord_reason() is None:
        sets[FLOOR] = FloorSet(plan, threads)
        if any(p['audio_spans'] for p in plan):
            sets[FLOOR_AV] = AVFloorSet(plan, threads)
    decoded = {
        'mmavcl': np.mean([frames_decoded(np.concatenate(p['views']),
                                          keys[p['filename']])
                           for p in plan]),
    }
    decoded[FLOOR] = decoded[FLOOR_AV] = decoded['mmavcl']
    from mmavcl.datasets.media import decord_available
    if init.get('backend') == 'pyav' or not decord_available():
        decoded['mmavcl'] = pyav_frames_decoded(plan)
    if mma_reason is None:
        for mode in mma_modes:
            lens = {len(v) for v in plan[0]['views']}
            if mode == '1 pass' and len(lens) != 1:
                continue
            ref = MMActionSet(plan, crop, threads, mode == 'pass/view')
            label = f'mmaction2 ({mode})'
            sets[label] = ref
            decoded[label] = np.mean([
                sum(frames_decoded(q.reshape(-1), keys[plan[k]['filename']],
                                   sort=False) for q in ref.passes(k))
                for k in range(len(plan))
            ])
    # warm-up: imports, first opens
    for s in sets.values():
        s[0]
    rows = []
    for workers in sorted({0, args.workers}):
        if workers == 0:
            secs = interleaved_in_process(sets, args.iters, args.rounds)
        else:
            secs = alternating_workers(sets, workers, args.rounds)
            secs = {k: v / args.rounds for k, v in secs.items()}
        rate = {k: args.iters / v for k, v in secs.items()}
        print(f'{name} (keyint {keyint}, {workers} workers): '
              f'{rate["mmavcl"]:.1f} samples/s', flush=True)
        for ref in sets:
            if ref == 'mmavcl':
                continue
            rows.append(dict(pipeline=name, keyint=keyint, workers=workers,
                             reference=ref, mmavcl_rate=rate['mmavcl'],
                             ref_rate=rate[ref],
                             ratio=rate['mmavcl'] / rate[ref],
                             mmavcl_frames=decoded['mmavcl'],
                             ref_frames=decoded[ref],
                             views=len(plan[0]['views'])))
            print(f'{name} (keyint {keyint}, {workers} workers) vs {ref}: '
                  f'{rate["mmavcl"] / rate[ref]:.2f}x', flush=True)
    return rows


def reencode_compare(files: List[str], keyint: int, args,
                     work_dir: str) -> Optional[dict]:
    """Re-encode ``files`` with ``tools/data/reencode_videos.py`` and time
    the first pipeline (and the decode floor) on both copies, interleaved."""
    reencode_videos = import_script('data', 'reencode_videos')
    short, new_keyint = args.reencode
    src = osp.dirname(files[0])
    dst = osp.join(work_dir, f'reencoded_g{keyint}')
    names = [osp.basename(f) for f in files]
    ann = write_list(osp.join(work_dir, f'reencode_g{keyint}.txt'), names)
    t = time.perf_counter()
    try:
        reencode_videos.main([src, dst, '--ann-file', ann, '--short-side',
                              str(short), '--keyint', str(new_keyint),
                              '--workers', str(max(args.workers, 1))])
    except SystemExit as err:
        print(f'skipping the re-encoding comparison: reencode_videos.py '
              f'exited with {err.code}')
        return None
    enc_s = time.perf_counter() - t
    new_files = [osp.join(dst, n) for n in names]
    name = args.pipelines[0]
    pipeline = _load_pipeline(name)
    threads = (_find(pipeline, 'VideoInit') or {}).get('num_threads', 1)
    sets, decoded = {}, {}
    for tag, fs in (('original', files), ('re-encoded', new_files)):
        plan = make_plan(pipeline, fs, args.iters, args.seed)
        for p in plan:
            p['decode_hw'] = p['source_shape']
        sets[tag] = MMAVCLSet(pipeline, fs, args.iters, args.seed,
                              osp.join(work_dir, tag))
        if decord_reason() is None:
            sets[tag + ' floor'] = FloorSet(plan, threads)
        keys = {f: keyframes(f) for f in fs}
        decoded[tag] = np.mean([
            frames_decoded(np.concatenate(p['views']), keys[p['filename']])
            for p in plan
        ])
    for s_ in sets.values():
        s_[0]
    secs = interleaved_in_process(sets, args.iters, args.rounds)
    rate = {k: args.iters / v for k, v in secs.items()}
    ratio = rate['re-encoded'] / rate['original']
    print(f're-encoding {len(files)} videos to short side {short}, keyint '
          f'{new_keyint}: {enc_s:.1f} s ({len(files) / enc_s:.2f} videos/s, '
          f'{max(args.workers, 1)} workers)')
    print(f'{name} re-encoded (keyint {new_keyint}, short side {short}) vs '
          f'original (keyint {keyint}), 0 workers: {ratio:.2f}x')
    if 'original floor' in rate:
        print(f'decode floor re-encoded vs original (keyint {keyint}): '
              f'{rate["re-encoded floor"] / rate["original floor"]:.2f}x')
    return dict(keyint=keyint, new_keyint=new_keyint, short_side=short,
                encode_s=enc_s, rate=rate, ratio=ratio, decoded=decoded)


def print_table(rows: List[dict]) -> None:
    print('\n| pipeline | keyint | workers | reference | views | mmavcl '
          'samples/s | reference samples/s | ratio | frames decoded/sample '
          '(mmavcl / reference) |')
    print('|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f'| {r["pipeline"]} | {r["keyint"]} | {r["workers"]} | '
              f'{r["reference"]} | {r["views"]} | {r["mmavcl_rate"]:.2f} | '
              f'{r["ref_rate"]:.2f} | {r["ratio"]:.2f}x | '
              f'{r["mmavcl_frames"]:.0f} / {r["ref_frames"]:.0f} |')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pipelines', nargs='+',
                        default=list(DEFAULT_PIPELINES),
                        choices=list(PIPELINES))
    parser.add_argument('--num-videos', type=int, default=4)
    parser.add_argument('--iters', type=int, default=24,
                        help='samples per measurement')
    parser.add_argument('--workers', type=int, default=2,
                        help='N: also measure with N DataLoader workers')
    parser.add_argument('--rounds', type=int, default=2,
                        help='loader passes per set with N workers; with 0 '
                        'workers, reads per sample and set (the best counts)')
    parser.add_argument('--keyints', type=int, nargs='+', default=[30, 250],
                        help='keyframe intervals of the generated videos')
    add_video_args(parser)
    parser.add_argument('--no-mmaction', action='store_true')
    parser.add_argument('--video-backend', choices=['decord', 'pyav'],
                        help='override the VideoInit backend of the mmavcl '
                        'pipelines (default: their config\'s, PyAV for the '
                        'K400 ones; the decode floor and MMAction2 always '
                        'use decord)')
    parser.add_argument('--video-hwaccel', choices=['cuda'],
                        help='decode the mmavcl pipelines\' videos with PyAV '
                        'on the GPU (NVDEC); in-process rows only (a forked '
                        'worker cannot use the device this process opened)')
    parser.add_argument('--audio-source', default='container',
                        choices=['container', 'sidecar'],
                        help='sidecar: first extract each video\'s audio '
                        'to a 16 kHz mono WAV with tools/data/extract_audio'
                        '.py and read it from there')
    parser.add_argument('--reencode', type=int, nargs=2,
                        metavar=('SHORT_SIDE', 'KEYINT'),
                        help='also re-encode each video set with '
                        'tools/data/reencode_videos.py and compare the '
                        'first pipeline on both')
    parser.add_argument('--memory', action='store_true',
                        help='run benchmarks/benchmark_memory.py instead '
                        '(remaining arguments go to it)')
    return parser.parse_known_args(argv)


def main(argv=None) -> List[dict]:
    args, rest = parse_args(argv)
    if args.memory:
        import benchmark_memory
        return benchmark_memory.main(rest)
    if rest:
        raise SystemExit(f'unknown arguments: {rest}')
    if args.video_hwaccel and args.workers:
        print(f'--video-hwaccel: in-process rows only (not '
              f'{args.workers} workers)')
        args.workers = 0
    warnings.filterwarnings('ignore', message='.*FileClient.*')
    warnings.filterwarnings('ignore', message='.*HardDiskBackend.*')
    import mmavcl.datasets  # noqa: F401  (registers the transforms)
    from mmengine.utils.dl_utils import set_multi_processing

    # what the Runner does with default_runtime's env_cfg (OpenCV's own
    # thread pool off), so that loaders run as they do in training
    set_multi_processing('fork', opencv_num_threads=0)
    w, h = (int(x) for x in args.size.lower().split('x'))
    mma_reason = 'disabled by --no-mmaction' if args.no_mmaction else \
        import_mmaction()
    if decord_reason():
        print(f'skipping the decode-floor comparisons: {decord_reason()}')
        # MMAction2's side reads with its DecordInit
        mma_reason = mma_reason or f"{decord_reason()} (MMAction2's " \
            'DecordInit)'
    if mma_reason:
        print(f'skipping the MMAction2 comparisons: {mma_reason}')
    else:
        print(MMACTION_NOTE)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        video_dir = args.video_dir or tmp
        os.makedirs(video_dir, exist_ok=True)
        for keyint in args.keyints:
            t = time.perf_counter()
            files = make_videos(video_dir, args.num_videos, keyint,
                                args.duration, (w, h), args.fps)
            print(f'videos: {len(files)} x {args.duration:g} s {w}x{h} '
                  f'{args.fps:g} fps H.264 (keyint {keyint}) + AAC 44.1 '
                  f'kHz stereo, ready in {time.perf_counter() - t:.1f} s',
                  flush=True)
            audio_dir = None
            if args.audio_source == 'sidecar':
                audio_dir = extract_sidecars(
                    files, osp.join(tmp, f'audio_g{keyint}'), args.workers)
            for name in args.pipelines:
                rows += run_pipeline(name, files, keyint, args, mma_reason,
                                     tmp, audio_dir)
            if args.reencode:
                reencode_compare(files, keyint, args, tmp)
    print_table(rows)
    return rows


if __name__ == '__main__':
    main()
