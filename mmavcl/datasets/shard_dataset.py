"""WebDataset tar shards (video2dataset's layout: ``{key}.mp4``,
``{key}.json``, ``{key}.txt``, optional ``{key}.wav``) streamed from local
paths or URIs, through the same pipelines as :class:`AVVideoDataset`."""
import json
import os.path as osp
import random
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Union

from mmcv.transforms import Compose
from mmengine.dist import get_dist_info
from torch.utils.data import IterableDataset, get_worker_info

from mmavcl.registry import DATASETS
from .errors import MediaDecodeError
from .media.remote import FetchedFile, fetch, open_stream
from .transforms.decoding import FETCHED_KEY
from .video_dataset import build_pipeline

__all__ = ['AVShardDataset', 'split_shards', 'INDEX_NAME']

#: the shard index next to the shards: {"shards": {name: count}, ...}
INDEX_NAME = 'index.json'
VIDEO_EXTS = ('mp4', 'mkv', 'webm', 'avi', 'mov')
AUDIO_EXTS = ('wav', 'flac', 'm4a', 'mp3')


def split_shards(urls: Sequence[str], rank: int, world_size: int,
                 worker: int, num_workers: int) -> List[str]:
    """The shards of ``worker`` on ``rank``: every
    ``world_size * num_workers``-th one, so each shard (and each sample) is
    read by exactly one worker of one rank per epoch."""
    slot, slots = rank * num_workers + worker, world_size * num_workers
    return list(urls)[slot::slots]


@DATASETS.register_module()
class AVShardDataset(IterableDataset):
    """An iterable dataset of WebDataset shards.

    Each shard is streamed (:func:`~.media.remote.open_stream`: local,
    ``http(s)://``, ``s3://``, ``gs://``; never whole in memory) and read
    with webdataset's tar iterators; each sample's members are kept in
    memory and handed to the pipeline as
    :class:`~.media.remote.FetchedFile`\\ s, so ``VideoInit`` /
    ``DecodeAudioViews`` decode them unchanged. Items are what
    :class:`AVVideoDataset` yields (``inputs``, ``data_samples``).

    Splitting: the (per-epoch shuffled) shard list is dealt out over ranks
    x DataLoader workers (:func:`split_shards`): every sample is read once
    per epoch when there are at least ``world_size * num_workers`` shards.
    Shuffling: shard order by ``(seed, epoch)`` (call :meth:`set_epoch`),
    samples within a buffer of ``shuffle_buffer``. Resuming mid-epoch is
    exact at shard granularity only (not implemented as a state here).

    Args:
        shards: List of shard paths/URIs, or a brace pattern
            (``.../k400-{000000..000511}.tar``).
        pipeline: Transforms (the same as for :class:`AVVideoDataset`).
        backend_args: mmengine fileio arguments for the shards and index.
        shuffle_buffer: Samples held for shuffling (0: shard order).
        seed: Shuffle seed.
        index_file: The shard index (default ``index.json`` next to the
            first shard): gives :meth:`__len__`.
        audio_source: ``'container'`` (the video member), ``'sidecar'``
            (the ``wav``/``flac``... member; missing: no audio) or
            ``'none'``.
        bad_sample_policy: ``'raise'`` or ``'skip'`` (a
            :class:`MediaDecodeError` of a sample, a sample without its
            video member, an unreadable shard: counted in
            :attr:`num_skipped` and logged).
    """

    def __init__(self,
                 shards: Union[str, Sequence[str]],
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 backend_args: Optional[dict] = None,
                 shuffle_buffer: int = 0,
                 seed: int = 0,
                 index_file: Optional[str] = None,
                 audio_source: str = 'container',
                 bad_sample_policy: str = 'raise') -> None:
        from webdataset.shardlists import expand_urls
        self.urls = list(expand_urls(shards)) if isinstance(
            shards, str) else [u for s in shards for u in expand_urls(s)]
        if not self.urls:
            raise ValueError(f'no shards in {shards!r}')
        if bad_sample_policy not in ('raise', 'skip'):
            raise ValueError(f'bad_sample_policy: {bad_sample_policy!r}')
        self.pipeline = Compose(build_pipeline(pipeline))
        self.backend_args = backend_args
        self.shuffle_buffer = int(shuffle_buffer)
        self.seed = int(seed)
        self.epoch = 0
        self.audio_source = audio_source
        self.bad_sample_policy = bad_sample_policy
        self.index_file = index_file or osp.join(
            osp.dirname(self.urls[0]), INDEX_NAME)
        self._index: Optional[Dict] = None
        self.num_skipped = 0
        self._dist = get_dist_info()

    def _rank_world(self):
        """``(rank, world_size)``, read in the main process (here, and
        again by :meth:`set_epoch` / :meth:`__len__`): in a DataLoader
        worker torch.distributed reads as not initialised (measured: with
        2 gloo ranks every worker reported rank 0 of 1 and each rank read
        every shard), so workers use the value copied from the main
        process."""
        if get_worker_info() is None:
            self._dist = get_dist_info()
        return self._dist

    @property
    def index(self) -> Dict:
        """The shard index ``{"shards": {name: num_samples}, ...}``."""
        if self._index is None:
            try:
                raw = fetch(self.index_file, self.backend_args, 'index')
            except MediaDecodeError as err:
                raise FileNotFoundError(
                    f'shard index {self.index_file}: {err.reason} (written '
                    'by tools/data/make_shards.py)') from None
            self._index = json.loads(raw.decode('utf-8'))
        return self._index

    def __len__(self) -> int:
        """Samples per epoch on this rank (the shards it reads, by the
        index)."""
        counts = self.index['shards']
        rank, world = self._rank_world()
        mine = self.urls[rank::world]
        missing = [u for u in mine if osp.basename(u) not in counts]
        if missing:
            raise KeyError(f'shard {missing[0]} is not in the shard index '
                           f'{self.index_file} ({len(missing)} missing)')
        return sum(int(counts[osp.basename(u)]) for u in mine)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self._rank_world()

    def _my_shards(self) -> List[str]:
        urls = list(self.urls)
        random.Random(self.seed * 1000003 + self.epoch).shuffle(urls)
        rank, world = self._rank_world()
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        return split_shards(urls, rank, world, wid, nw)

    def _samples(self, url: str) -> Iterator[Dict]:
        import tarfile

        from webdataset.tariterators import group_by_keys, tar_file_iterator
        with open_stream(url, self.backend_args) as stream:
            try:
                files = (dict(f, __url__=url)
                         for f in tar_file_iterator(stream))
                yield from group_by_keys(files)
            except (tarfile.TarError, EOFError, OSError) as err:
                raise MediaDecodeError(
                    url, f'unreadable shard: {type(err).__name__}: {err}',
                    'shard') from err

    def _results(self, url: str, sample: Dict) -> Dict:
        key = sample['__key__']
        video = next((e for e in VIDEO_EXTS if e in sample), None)
        if video is None:
            raise MediaDecodeError(
                f'{url}#{key}', 'the sample has no video member (one of '
                f'{", ".join(VIDEO_EXTS)}; members: '
                f'{", ".join(k for k in sample if not k.startswith("__"))})')
        name = f'{url}#{key}.{video}'
        results = dict(filename=name, video_id=key, modality='video')
        fetched = {name: FetchedFile(name, sample[video])}
        if self.audio_source == 'none':
            results['audio_filename'] = None
        elif self.audio_source == 'sidecar':
            audio = next((e for e in AUDIO_EXTS if e in sample), None)
            if audio is not None:
                aname = f'{url}#{key}.{audio}'
                fetched[aname] = FetchedFile(aname, sample[audio])
                results['audio_filename'] = aname
            else:
                results['audio_filename'] = f'{url}#{key}.wav'
        results[FETCHED_KEY] = fetched
        meta = json.loads(sample['json']) if 'json' in sample else {}
        label = meta.get('label')
        if label is None and 'txt' in sample:
            text = sample['txt'].decode('utf-8').strip()
            if text.lstrip('-').isdigit():
                label = int(text)
        if 'cls' in sample:
            label = int(sample['cls'].decode().strip())
        if label is not None:
            results['label'] = label
        return results

    def _skip(self, err: MediaDecodeError) -> None:
        if self.bad_sample_policy != 'skip':
            raise err
        self.num_skipped += 1
        from mmengine.logging import print_log
        print_log(f'skipping bad sample: {err} (bad_sample_policy=skip)',
                  logger='current', level=30)

    def _items(self) -> Iterator[Dict]:
        for url in self._my_shards():
            samples = self._samples(url)
            while True:
                try:
                    sample = next(samples)
                except StopIteration:
                    break
                except MediaDecodeError as err:  # the rest of the shard
                    self._skip(err)
                    break
                try:
                    data = self.pipeline(self._results(url, sample))
                except MediaDecodeError as err:
                    self._skip(err)
                    continue
                if data is not None:
                    yield data

    def __iter__(self) -> Iterator[Dict]:
        items = self._items()
        if self.shuffle_buffer <= 1:
            return items
        from webdataset.filters import _shuffle
        rng = random.Random(repr((self.seed, self.epoch, *self._worker_id())))
        return _shuffle(items, self.shuffle_buffer,
                        min(100, self.shuffle_buffer), rng=rng)

    def _worker_id(self):
        info = get_worker_info()
        return (self._rank_world()[0], info.id if info else 0)
