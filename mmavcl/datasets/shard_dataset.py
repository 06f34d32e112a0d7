"""WebDataset tar shards (video2dataset's layout: ``{key}.mp4``,
``{key}.json``, ``{key}.txt``, optional ``{key}.wav``) streamed from local
paths or URIs, through the same pipelines as :class:`AVVideoDataset`."""
import heapq
import json
import os.path as osp
import random
import time
from collections import Counter
from typing import (Callable, Dict, Iterable, Iterator, List, Optional,
                    Sequence, Set, Tuple, Union)

import torch
from mmcv.transforms import Compose
from mmengine.dist import get_dist_info
from torch.utils.data import IterableDataset, get_worker_info

from mmavcl.registry import DATASETS
from .errors import MediaDecodeError
from .media import remote
from .media.remote import FetchedFile, fetch, is_uri, open_stream
from .media.sidecar import SIDECAR_EXTS
from .media.video import VIDEO_EXTS as _VIDEO_FILE_EXTS
from .transforms.decoding import FETCHED_KEY
from .video_dataset import SKIPPED_KEY, build_pipeline

__all__ = ['AVShardDataset', 'split_shards', 'deal_shards', 'deal_rest',
           'merge_progress', 'shard_names', 'INDEX_NAME', 'BAD_KEYS_KEY']

#: the shard index in each shards' folder: {"shards": {file name: count}}
INDEX_NAME = 'index.json'
#: video members, by their extension (the video files' own, without the
#: dot: ``make_shards.py`` keeps each video's)
VIDEO_EXTS = tuple(ext[1:] for ext in _VIDEO_FILE_EXTS)
#: sidecar members, first found first (the video dataset's order)
AUDIO_EXTS = tuple(ext[1:] for ext in SIDECAR_EXTS)
#: metainfo of every item: the shard's name (:func:`shard_names`) and the
#: sample's key
SHARD_META = ('shard', 'shard_key')
#: metainfo of an item: the ``(shard name, key)`` of each sample its worker
#: skipped as bad since its last item (with ``skipped_bad_samples``), for
#: the progress (:meth:`AVShardDataset.record_trained`)
BAD_KEYS_KEY = 'skipped_shard_keys'


def shard_names(urls: Sequence[str]) -> List[str]:
    """Each shard's name: its path below the folder that all ``urls``
    share (``a/train-000000.tar`` and ``b/train-000000.tar`` for shards of
    ``.../a/`` and ``.../b/``; the file name when they share one folder).

    Progress, shard counts and the deal are keyed by it, so shards with the
    same file name in different folders (two datasets, two S3 prefixes)
    stay apart, while the names of one folder's shards are the file names
    that checkpoints and indexes of one folder already hold.

    Raises:
        ValueError: a shard listed twice (its samples would be read twice
            per epoch, and its progress could not tell the reads apart).
    """
    parts = [url.split('/') for url in urls]
    common = min(len(p) - 1 for p in parts)  # folders only
    for depth in range(common):
        if len({p[depth] for p in parts}) > 1:
            common = depth
            break
    names = ['/'.join(p[common:]) for p in parts]
    first: Dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            raise ValueError(
                f'shard {urls[i]} is listed twice (shards {first[name]} and '
                f'{i} of {len(urls)}): each shard may be listed once')
        first[name] = i
    return names


def split_shards(urls: Sequence[str], rank: int, world_size: int,
                 worker: int, num_workers: int,
                 count: Optional[Callable[[str], Optional[int]]] = None
                 ) -> List[str]:
    """The shards of ``worker`` on ``rank``: ``urls`` dealt over the ranks,
    then the rank's share over its workers, each shard in turn to the one
    holding the fewest samples so far (``count(url)``, by the shard index;
    one per shard without it; the lowest on a tie).

    Every shard goes to exactly one worker of one rank. The ranks' shares
    differ by at most the samples of one shard (of shards of one size:
    by at most one shard, the ranks with more being the first ones), the
    same for the workers of a rank.
    """
    ranks = deal_shards(urls, world_size, count)
    mine = [u for u, r in zip(urls, ranks) if r == rank]
    workers = deal_shards(mine, num_workers, count)
    return [u for u, w in zip(mine, workers) if w == worker]


def deal_shards(urls: Sequence[str], slots: int,
                count: Optional[Callable[[str], Optional[int]]] = None
                ) -> List[int]:
    """The slot (rank or worker) of each url when each goes in turn to the
    slot holding the fewest samples so far (greedy, lowest slot on a tie:
    the slots' totals differ by at most the largest shard's count).
    ``O(len(urls) * log(slots))``."""
    held = [(0, slot) for slot in range(slots)]  # a heap
    out = []
    for url in urls:
        samples, slot = heapq.heappop(held)
        out.append(slot)
        n = None if count is None else count(url)
        heapq.heappush(held, (samples + (1 if n is None else n), slot))
    return out


#: a span of a shard: ``(name, start, stop)``, the samples of shard
#: ``name`` not yet trained on, counted in tar order from 0, that fall in
#: ``[start, stop)``
Span = Tuple[str, int, int]


def deal_rest(names: Sequence[str], left: Sequence[int],
              slots: int) -> List[List[Span]]:
    """Each slot's (rank's) spans when the samples left in shards
    ``names`` (``left[i]`` untrained samples in ``names[i]``), laid end to
    end in that order, are cut into ``slots`` runs of ``total // slots`` or
    one more sample (the first ``total % slots`` slots get the one more).

    Every untrained sample goes to exactly one slot, and the slots' counts
    differ by at most one sample; a shard is cut between slots only where a
    run ends, so at most ``slots - 1`` shards are read by more than one
    slot (each reading its own span)."""
    total = sum(left)
    base, extra = divmod(total, slots)
    out: List[List[Span]] = [[] for _ in range(slots)]
    slot, room = 0, base + (extra > 0)
    for name, n in zip(names, left):
        start = 0
        while start < n:
            while room == 0:
                slot += 1
                room = base + (slot < extra)
            take = min(room, n - start)
            out[slot].append((name, start, start + take))
            start += take
            room -= take
    return out


def merge_progress(states: Iterable[Optional[Dict]],
                   count: Optional[Callable[[str], Optional[int]]] = None
                   ) -> Optional[Dict]:
    """One progress state (:meth:`AVShardDataset.progress_state`) from
    those of all ranks: the union of what each rank trained on (ranks read
    disjoint samples, so nothing is lost or doubled). ``redealt`` is kept
    when a rank's epoch was dealt by :func:`deal_rest`; ``bad`` (the keys
    skipped as bad, of done shards too) when a rank has one.

    A shard whose merged trained and bad keys reach ``count(name)`` (the
    shard index's count; None: not known, the shard stays partial) is done,
    as a rank marks its own shards (:meth:`AVShardDataset.record_trained`):
    a shard that :func:`deal_rest` cut between ranks is trained part by
    each, and no rank alone holds its count. A sample skipped as bad counts
    towards it, so a resume neither opens a shard again for its bad
    samples nor decodes (and reports) them again."""
    states = [s for s in states if s]
    if not states:
        return None
    done: Set[str] = set()
    partial: Dict[str, Set[str]] = {}
    bad: Dict[str, Set[str]] = {}
    for s in states:
        done.update(s['done'])
        for name, keys in s['partial'].items():
            partial.setdefault(name, set()).update(keys)
        for name, keys in s.get('bad', {}).items():  # older: none
            bad.setdefault(name, set()).update(keys)
    if count is not None:
        done.update(n for n in set(partial) | set(bad) if len(
            partial.get(n, set()) | bad.get(n, set())) == count(n))
    merged = dict(epoch=states[0]['epoch'], done=sorted(done),
                  partial={n: sorted(k) for n, k in sorted(partial.items())
                           if n not in done})
    if bad:
        merged['bad'] = {n: sorted(k) for n, k in sorted(bad.items())}
    if any(s.get('redealt') for s in states):
        merged['redealt'] = True
    return merged


def _span_workers(spans: Sequence[Span], num_workers: int) -> List[int]:
    """The DataLoader worker of each of a rank's ``spans``: each in turn
    to the one holding the fewest samples so far (:func:`deal_shards`)."""
    sizes = [b - a for _, a, b in spans]
    return deal_shards(range(len(spans)), num_workers, sizes.__getitem__)


class _ShardCut(Exception):
    """A shard stopped being readable part way (truncated tar, dropped
    connection); raised after the last complete sample was handed on."""

    def __init__(self, member: Optional[str], err: BaseException) -> None:
        super().__init__(member, err)
        self.member, self.err = member, err


@DATASETS.register_module()
class AVShardDataset(IterableDataset):
    """An iterable dataset of WebDataset shards.

    Each shard is streamed (:func:`~.media.remote.open_stream`: local,
    ``http(s)://``, ``s3://``, ``gs://``; never whole in memory) and read
    with webdataset's tar iterators; each sample's members are kept in
    memory and handed to the pipeline as
    :class:`~.media.remote.FetchedFile`\\ s, so ``VideoInit`` /
    ``DecodeAudioViews`` decode them unchanged. Items are what
    :class:`AVVideoDataset` yields (``inputs``, ``data_samples``); the
    data sample's metainfo also holds ``shard`` (the shard's name: its
    path below the folder all shards share, :func:`shard_names`; the file
    name for shards of one folder) and ``shard_key`` (the sample's key in
    it).

    Splitting: the (per-epoch shuffled) shard list is dealt out over the
    ranks, and each rank's share over its DataLoader workers
    (:func:`split_shards`: each shard to the one holding the fewest
    samples by the index), so every sample is read by exactly one worker
    of one rank per epoch, and the ranks' shares differ by at most one
    shard's samples. :meth:`__len__` is the smallest share of the current
    epoch, the same on every rank. Ranks whose shares give different
    numbers of batches (shards of different sizes, skipped samples) are
    stopped together by ``AVEpochBasedTrainLoop`` (``AVIterBasedTrainLoop``:
    at the end of each pass over the data) when the first one runs out:
    the batches the others have left are not trained in that epoch
    (counted at its end).

    Shuffling: shard order by ``(seed, epoch)`` (call :meth:`set_epoch`
    before iterating), samples within a buffer of ``shuffle_buffer``. The
    epoch lives in shared memory, so DataLoader workers see
    :meth:`set_epoch` also when they persist across epochs
    (``persistent_workers=True``).

    Resuming mid-epoch (:meth:`record_trained`, :meth:`progress_state`,
    :meth:`load_progress`, driven by ``AVEpochBasedTrainLoop`` and
    ``AVIterBasedTrainLoop``, whose passes over the data are this
    dataset's epochs, and saved in the checkpoint): exact as a *set of
    samples*. The shards of which every sample was trained on (or skipped
    as bad) are not opened again; the other shards of the epoch are read
    from their start and the samples already trained on or skipped as bad
    are dropped before decoding (their bytes are read again). Each sample
    of the epoch is trained on once over the killed and the resumed run. The
    order of the remaining samples and the batches they form differ from
    the uninterrupted run's (the shuffle buffer starts empty). Samples are
    named by shard name (:func:`shard_names`) and key, so a resume must
    read the same shard list. A resume by another number of processes
    deals the samples left evenly over the ranks (:func:`deal_rest`, see
    :meth:`load_progress`) instead of the epoch's deal, whose shares may
    be mostly trained on one rank and whole on another.

    Failures: a remote shard cut part way (a dropped connection) is
    opened again after a backoff (:data:`~.media.remote.FETCH_RETRIES`,
    :data:`~.media.remote.FETCH_BACKOFF`) and read past the samples
    already handed on. A cut that stays (a truncated tar), a tar that
    ends before the sample count the index gives for the shard, a shard
    that cannot be opened (after the retries of
    :func:`~.media.remote.open_stream`) are :class:`MediaDecodeError`\\ s
    naming the shard. The samples before a cut are delivered (webdataset
    groups one member ahead, so the sample before the cut is flushed here,
    not dropped); a sample whose own member is cut is not.

    Args:
        shards: List of shard paths/URIs, or a brace pattern
            (``.../k400-{000000..000511}.tar``).
        pipeline: Transforms (the same as for :class:`AVVideoDataset`).
        backend_args: mmengine fileio arguments for the shards and index.
        shuffle_buffer: Samples held for shuffling (0: shard order).
        seed: Shuffle seed.
        index_file: The shard index: gives :meth:`__len__`, tells a
            finished shard in :meth:`progress_state` and a short one while
            reading. Default: the ``index.json`` of each folder holding
            shards (keyed by file name, as ``make_shards.py`` writes it).
            Given: one file for all shards, keyed by shard name
            (:func:`shard_names`: the file name for shards of one folder),
            or by file name where no two shards share one.
        audio_source: ``'container'`` (the video member), ``'sidecar'``
            (the ``wav``/``flac``... member; missing: no audio) or
            ``'none'``.
        bad_sample_policy: ``'raise'`` or ``'skip'``. Under ``'skip'`` a
            :class:`MediaDecodeError` of a sample, a sample without its
            video member, a shard cut short or unreadable is counted in
            :attr:`num_skipped` (per process), logged (unless
            ``DataReportHook`` took the logging over: ``log_bad_samples``),
            and reported to the main process in the metainfo
            ``skipped_bad_samples`` (``(name, reason)`` pairs, read by
            ``DataReportHook``) of the next item the same worker yields;
            a bad sample's ``(shard, key)`` rides in its
            ``skipped_shard_keys``, and the progress counts it as read
            (:meth:`progress_state`: a resume does not decode it again).
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
        self._names = dict(zip(self.urls, shard_names(self.urls)))
        if bad_sample_policy not in ('raise', 'skip'):
            raise ValueError(f'bad_sample_policy: {bad_sample_policy!r}')
        self.pipeline = Compose(build_pipeline(pipeline))
        self.backend_args = backend_args
        self.shuffle_buffer = int(shuffle_buffer)
        self.seed = int(seed)
        # shared memory: persistent DataLoader workers hold a copy of this
        # object made when they started, but see writes to this tensor
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()
        self.audio_source = audio_source
        self.bad_sample_policy = bad_sample_policy
        self.index_file = index_file
        #: the index files read, each with the prefix its keys get (the
        #: folder's path in the shard names)
        self.index_files = {index_file: ''} if index_file else {
            osp.join(osp.dirname(url), INDEX_NAME):
                name[:len(name) - len(osp.basename(url))]
            for url, name in self._names.items()}
        self._index: Optional[Dict] = None
        self._no_index = False
        self.num_skipped = 0
        #: log each skip in the process that meets it; DataReportHook turns
        #: it off and names the files on rank 0 instead
        self.log_bad_samples = True
        self._reports: List[Tuple[str, str]] = []
        # worker: (shard, key) of the bad samples not yet handed on
        self._bad_keys: List[Tuple[str, str]] = []
        self._dist = get_dist_info()
        # resume: what the checkpoint says this epoch already trained on
        self._resume: Optional[Dict] = None
        # main process: what the loop trained on in this epoch
        self._done: Set[str] = set()
        self._trained: Dict[str, Set[str]] = {}
        # main process: the keys skipped as bad in this epoch, done shards'
        # too (the samples they did not train: epoch_shortfall)
        self._bad: Dict[str, Set[str]] = {}

    @property
    def epoch(self) -> int:
        return int(self._epoch[0])

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
        """The shard index ``{"shards": {name: num_samples}, ...}`` by
        shard name (:func:`shard_names`), from every file of
        :attr:`index_files`."""
        if self._index is None:
            index: Dict = dict(shards={})
            for path, prefix in self.index_files.items():
                try:
                    raw = fetch(path, self.backend_args, 'index')
                except MediaDecodeError as err:
                    raise FileNotFoundError(
                        f'shard index {path}: {err.reason} (written by '
                        'tools/data/make_shards.py)') from None
                loaded = json.loads(raw.decode('utf-8'))
                if len(self.index_files) == 1:  # its totals hold
                    index.update(loaded, shards={})
                index['shards'].update(
                    (prefix + name, count)
                    for name, count in loaded['shards'].items())
            if self.index_file:
                self._by_file_name(index['shards'])
            self._index = index
        return self._index

    def _by_file_name(self, counts: Dict[str, int]) -> None:
        """Add to ``counts`` (a given index file's) the shards it lists
        by file name alone (``make_shards.py --from-shards`` over several
        folders): under their shard name when no other shard has that
        file name."""
        files = Counter(osp.basename(url) for url in self.urls)
        for url, name in self._names.items():
            file = osp.basename(url)
            if name not in counts and file in counts and files[file] == 1:
                counts[name] = counts[file]

    def _count(self, name: str) -> Optional[int]:
        """Samples in shard ``name`` by the index (None: no index, or not
        listed)."""
        if self._no_index:
            return None
        try:
            count = self.index['shards'].get(name)
        except FileNotFoundError:
            self._no_index = True  # not fetched again for every shard
            return None
        return None if count is None else int(count)

    def shard_count(self, name: str) -> Optional[int]:
        """Samples in shard ``name`` (:func:`shard_names`) by the shard
        index; None when there is no index or it does not list the
        shard."""
        return self._count(name)

    def __len__(self) -> int:
        """Samples per rank in the current epoch: the smallest of the
        ranks' shares (by the index). The same number on every rank:
        mmengine derives the iterations of an epoch from it (the last
        iteration's checkpoint, iteration-based schedules), and ranks that
        disagree there wait for each other in a collective or follow
        different schedules. ``AVEpochBasedTrainLoop`` stops every rank with
        the first whose share runs out."""
        return min(self._shares())

    def _shares(self) -> List[int]:
        """Each rank's samples in the current epoch, by the index."""
        shares = [0] * self._rank_world()[1]
        for name, rank in self._ranks_of_shards().items():
            shares[rank] += int(self.index['shards'][name])
        return shares

    def _ranks_of_shards(self) -> Dict[str, int]:
        """Shard name -> the rank that reads it in the current epoch."""
        counts = self.index['shards']
        missing = [u for u in self.urls if self._names[u] not in counts]
        if missing:
            raise KeyError(
                f'shard {missing[0]} (as {self._names[missing[0]]!r}) is '
                f'not in the shard index {", ".join(self.index_files)} '
                f'({len(missing)} missing)')
        urls, world = self._epoch_shards(), self._rank_world()[1]
        return {self._names[url]: rank for url, rank in zip(
            urls, deal_shards(urls, world, self._shard_count))}

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch``: its shard order, a fresh record of what
        was trained on. Call it in the main process before iterating."""
        self._epoch[0] = int(epoch)
        self._done, self._trained, self._bad = set(), {}, {}
        world = self._rank_world()[1]
        if len(self.urls) < world:
            raise ValueError(
                f'{len(self.urls)} shard(s) for {world} ranks: a rank '
                'would read none, and AVEpochBasedTrainLoop stops every '
                'rank with the first whose share runs out (nothing would '
                'train). Write at least as many shards as ranks '
                '(tools/data/make_shards.py --samples-per-shard).')

    # --------------------------------------------------- resume position
    def record_trained(self, data_batch: Dict) -> None:
        """Main process: note the samples of a batch the loop trains on
        (by their metainfo ``shard`` / ``shard_key``) and those skipped as
        bad whose report rides on them (``skipped_shard_keys``). A shard
        is done when its trained and bad keys reach the index's count."""
        for sample in data_batch.get('data_samples') or ():
            meta = getattr(sample, 'metainfo', {})
            for name, key in meta.get(BAD_KEYS_KEY, ()):
                self._note(name, key, self._bad)
            name = meta.get('shard')
            if name is not None:
                self._note(name, meta['shard_key'], self._trained)

    def _note(self, name: str, key: str, into: Dict[str, Set[str]]) -> None:
        """Add ``key`` of shard ``name`` to ``into`` (trained or bad keys),
        marking the shard done once both reach its count."""
        if name in self._done:
            return
        into.setdefault(name, set()).add(key)
        read = self._trained.get(name, set()) | self._bad.get(name, set())
        if len(read) == self._count(name):
            self._done.add(name)  # keep only the name (and bad keys)
            self._trained.pop(name, None)

    def progress_state(self) -> Dict:
        """What this process trained on in the current epoch:
        ``{'epoch', 'done': [shard names], 'partial': {name: [keys]}}``
        (names: :func:`shard_names`), with ``'bad': {name: [keys]}``
        when samples were skipped as bad (done shards' too). A shard is
        done when as many of its keys were trained on or skipped as bad
        as the index lists. ``'redealt': True`` when this epoch's rest was
        dealt by :func:`deal_rest` (a resume by other processes): a resume
        of it deals its rest so again, whatever its processes."""
        state = dict(epoch=self.epoch, done=sorted(self._done),
                     partial={n: sorted(k)
                              for n, k in sorted(self._trained.items())})
        if self._bad:  # else the format of checkpoints before it
            state['bad'] = {n: sorted(k)
                            for n, k in sorted(self._bad.items())}
        if self._redealt() is not None:
            state['redealt'] = True
        return state

    def _redealt(self) -> Optional[Dict]:
        """The resume state of the current epoch when its rest was dealt
        by :func:`deal_rest`, else None."""
        resume = self._resume
        if resume is None or resume['epoch'] != self.epoch or \
                resume.get('spans') is None:
            return None
        return resume

    def redealt_batches(self, batch_size: int, num_workers: int = 0,
                        drop_last: bool = False) -> Optional[int]:
        """After a resume dealt by :func:`deal_rest` (the current epoch):
        the batches of ``batch_size`` its rest gives the rank with the
        fewest, each of ``num_workers`` DataLoader workers (0: the main
        process) batching its own spans; the same number on every rank,
        as the loop stops every rank with the first whose share runs out
        (fewer when samples are skipped as bad). None for an epoch not
        dealt so."""
        redealt = self._redealt()
        if redealt is None:
            return None
        workers = max(1, int(num_workers))

        def batches(samples: int) -> int:
            return samples // batch_size if drop_last else \
                -(-samples // batch_size)

        def of_rank(spans: List[Span]) -> int:
            held = [0] * workers
            for (_, a, b), w in zip(spans, _span_workers(spans, workers)):
                held[w] += b - a
            return sum(batches(n) for n in held)

        return min(of_rank(spans) for spans in redealt['every_rank'])

    def _trained_total(self) -> int:
        """Samples recorded as trained in this epoch, over every shard
        (done ones by the index, less their bad samples)."""
        return sum(self._done_trained(n) for n in self._done) + sum(
            len(k) for k in self._trained.values())

    def _done_trained(self, name: str) -> int:
        """The samples trained of done shard ``name``: its count less its
        keys skipped as bad."""
        return (self._count(name) or 0) - len(self._bad.get(name, ()))

    def epoch_shortfall(self) -> Tuple[int, int]:
        """Main process, at an epoch's end: ``(trained, expected)``
        samples of this rank's shards (by the index). Fewer trained than
        expected means samples were skipped (bad media, cut or unreachable
        shards), also those whose report found no later item to travel
        with, or left when another rank's share ran out first. After a
        resume the loaded progress holds every rank's shards: only this
        rank's count. After a resume that dealt the rest by
        :func:`deal_rest`: what this rank trained of its spans, out of
        their samples, rank 0 adding what the checkpoint had trained (the
        sums over the ranks are the epoch's)."""
        rank = self._rank_world()[0]
        redealt = self._redealt()
        if redealt is not None:
            before = redealt['before'] if rank == 0 else 0
            return (self._trained_total() - redealt['before'] + before,
                    redealt['share'] + before)
        ranks = self._ranks_of_shards()
        trained = sum(self._done_trained(n) for n in self._done
                      if ranks.get(n) == rank) + sum(
            len(k) for n, k in self._trained.items() if ranks.get(n) == rank)
        return trained, self._shares()[rank]

    def load_progress(self, state: Dict, label: Optional[str] = None
                      ) -> None:
        """Resume: the next iteration over epoch ``state['epoch']`` skips
        the done shards without opening them and drops the listed keys
        before decoding. Call after :meth:`set_epoch` of that epoch and
        before the DataLoader's workers start. ``label``: the epoch as the
        log names it (default ``'epoch N'``; the iteration loop's ``'pass
        N over the data'``).

        ``state['world_size']`` (the processes that wrote it; the loops add
        it from the checkpoint) other than this run's, or
        ``state['redealt']``: the ranks' shares of the epoch's deal no
        longer match what is left of them (a rank's shards may be mostly
        trained), so the samples left are dealt anew by :func:`deal_rest`,
        evenly to one sample, in the epoch's shard order: a shard cut
        between two ranks is read by both, each keeping its own span of
        the untrained samples. Each rank computes the same deal from the
        same merged progress and the index's counts."""
        if int(state['epoch']) != self.epoch:
            raise ValueError(
                f'shard progress of epoch {state["epoch"]} loaded into '
                f'epoch {self.epoch}')
        self._done = set(state['done'])
        self._trained = {n: set(k) for n, k in state['partial'].items()}
        # written before bad samples were recorded: none, and a shard
        # holding one is read again for it
        self._bad = {n: set(k) for n, k in state.get('bad', {}).items()}
        # the keys not to read again: trained or skipped as bad
        skip = {n: frozenset(k) for n, k in self._trained.items()}
        for n, k in self._bad.items():
            if n not in self._done:
                skip[n] = skip.get(n, frozenset()) | k
        self._resume = dict(epoch=self.epoch, done=set(self._done),
                            partial=skip)
        rank, world = self._rank_world()
        if state.get('redealt') or state.get('world_size') not in (
                None, world):
            self._deal_rest(rank, world,
                            label or f'epoch {self.epoch + 1}')

    def _deal_rest(self, rank: int, world: int, label: str) -> None:
        """Deal what the loaded progress left of the epoch over the ranks
        (:func:`deal_rest`): this rank's spans, its share and the samples
        trained before go into the resume state."""
        resume = self._resume
        names = [self._names[u] for u in self._epoch_shards()
                 if self._names[u] not in resume['done']]
        counts = [self._count(n) for n in names]
        if None in counts:  # no index: __len__ already refused to run
            return
        left = [max(0, c - len(resume['partial'].get(n, ())))
                for n, c in zip(names, counts)]
        spans = deal_rest(names, left, world)
        resume['spans'] = spans[rank]
        resume['every_rank'] = spans
        resume['share'] = sum(b - a for _, a, b in spans[rank])
        resume['before'] = self._trained_total()
        cut = len({n for part in spans for n, _, _ in part}) < sum(
            len(part) for part in spans)
        from mmengine.logging import print_log
        print_log(
            f'Resume: the {sum(left)} sample(s) of {label} '
            f'not yet trained on are dealt anew over the {world} rank(s): '
            f'{", ".join(str(sum(b - a for _, a, b in p)) for p in spans)}'
            + (' (a shard cut between ranks is read by each, which keeps '
               'its own part of its untrained samples)' if cut else '')
            + '.', logger='current')

    # --------------------------------------------------------- reading
    def _shard_count(self, url: str) -> Optional[int]:
        return self._count(self._names[url])

    def _epoch_shards(self) -> List[str]:
        """All shards in the order of the current ``(seed, epoch)``."""
        urls = list(self.urls)
        random.Random(self.seed * 1000003 + self.epoch).shuffle(urls)
        return urls

    def _my_shards(self) -> List[str]:
        """The shards this process (DataLoader worker) reads in the current
        epoch."""
        rank, world = self._rank_world()
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        return split_shards(self._epoch_shards(), rank, world, wid, nw,
                            self._shard_count)

    @staticmethod
    def _members(url: str, stream) -> Iterator[Dict]:
        """The tar members of ``stream`` for webdataset's ``group_by_keys``.

        ``group_by_keys`` yields a sample when the next sample's first
        member arrives, so a read error there would drop the complete
        sample before it. On an error this flushes that sample (webdataset's
        ``{}`` end-of-group marker) unless the member being read belongs to
        it, then raises :class:`_ShardCut`.
        """
        from webdataset.tariterators import base_plus_ext, tar_file_iterator
        errors: List[BaseException] = []
        reading: List[str] = []
        last_key = None

        def note(name: str) -> bool:  # called just before a member's read
            reading[:] = [name]
            return True

        def stop(err: BaseException) -> bool:
            errors.append(err)
            return False

        try:
            for member in tar_file_iterator(stream, handler=stop,
                                            select_files=note):
                last_key = base_plus_ext(member['fname'])[0]
                reading.clear()
                yield dict(member, __url__=url)
        except Exception as err:  # a header error ends the tar iterator
            errors.append(err)
        if not errors:
            return
        cut = reading[0] if reading else None
        if last_key is not None and (cut is None or
                                     base_plus_ext(cut)[0] != last_key):
            yield {}
        raise _ShardCut(cut, errors[0])

    def _samples(self, url: str) -> Iterator[Dict]:
        from webdataset.tariterators import group_by_keys
        with open_stream(url, self.backend_args) as stream:
            yield from group_by_keys(self._members(url, stream))

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

    def _skip(self, err: MediaDecodeError,
              sample: Optional[Tuple[str, str]] = None) -> None:
        """Skip a bad read (``'skip'``), else raise ``err``. ``sample``:
        the bad sample's ``(shard name, key)``, for the progress (None for
        a whole shard)."""
        if self.bad_sample_policy != 'skip':
            raise err
        self.num_skipped += 1
        self._reports.append((err.filename, err.reason))
        if sample is not None:
            self._bad_keys.append(sample)
        if not self.log_bad_samples:
            return
        from mmengine.logging import print_log
        print_log(f'skipping bad sample: {err} (bad_sample_policy=skip)',
                  logger='current', level=30)

    def _shard_items(self, url: str, trained: frozenset,
                     span: Optional[Tuple[int, int]] = None
                     ) -> Iterator[Dict]:
        """The packed items of one shard, without the keys in ``trained``;
        with ``span = (start, stop)`` only its untrained samples
        ``start``..``stop - 1`` (counted in tar order from 0), the read
        ending after the last of them.

        A remote shard cut part way (a dropped connection, a server that
        stopped) is opened again after a backoff, up to
        :data:`~.media.remote.FETCH_RETRIES` times, and read past the
        samples already handed on (not decoded again). A cut that stays,
        or any cut of a local file, raises :class:`MediaDecodeError` after
        the samples before it; so does a shard shorter than its index
        count."""
        name = self._names[url]
        done: Set[str] = set()  # keys handed on, skipped or dropped
        # untrained samples met so far: their count is each one's place
        # in the span, the same on every pass (re-reads skip ``done``)
        untrained = [0]
        for attempt in range(remote.FETCH_RETRIES + 1):
            try:
                yield from self._read_shard(url, trained, done, span,
                                            untrained)
                break
            except _ShardCut as cut:
                where = f' in member {cut.member}' if cut.member else ''
                reason = (f'unreadable shard{where} after {len(done)} '
                          f'complete sample(s): {type(cut.err).__name__}: '
                          f'{cut.err}')
                if not is_uri(url) or attempt == remote.FETCH_RETRIES:
                    tries = f' (after {attempt + 1} attempts)' \
                        if attempt else ''
                    raise MediaDecodeError(
                        url, f'{reason}; the rest of the shard is '
                        f'lost{tries}', 'shard') from cut.err
                delay = remote.FETCH_BACKOFF * 2**attempt
                from mmengine.logging import print_log
                print_log(f'{url}: {reason}; reading it again in {delay:g} '
                          's past those samples', logger='current', level=30)
                time.sleep(delay)
        if span is not None and untrained[0] >= span[1]:
            return  # the span is complete: the rest is another rank's
        expected = self._count(name)
        if expected is not None and len(done) < expected:
            raise MediaDecodeError(
                url, f'the shard ended after {len(done)} of the {expected} '
                f'samples the index lists (truncated?); '
                f'{expected - len(done)} lost', 'shard')

    def _read_shard(self, url: str, trained: frozenset, done: Set[str],
                    span: Optional[Tuple[int, int]] = None,
                    untrained: Optional[List[int]] = None
                    ) -> Iterator[Dict]:
        """One pass over a shard from its start; keys in ``done`` (read on
        an earlier pass) and ``trained`` are passed over, the others added
        to ``done``. ``span``: see :meth:`_shard_items`; ``untrained[0]``
        counts the untrained samples met (over the passes)."""
        name = self._names[url]
        start, stop = span if span is not None else (0, None)
        untrained = [0] if untrained is None else untrained
        samples = self._samples(url)
        try:
            yield from self._read_samples(url, name, samples, trained, done,
                                          start, stop, untrained)
        finally:
            samples.close()  # a span that ended early closes the stream

    def _read_samples(self, url: str, name: str, samples: Iterator[Dict],
                      trained: frozenset, done: Set[str], start: int,
                      stop: Optional[int], untrained: List[int]
                      ) -> Iterator[Dict]:
        while stop is None or untrained[0] < stop:
            try:
                sample = next(samples)
            except StopIteration:
                break
            key = sample['__key__']
            if key in done:
                continue
            done.add(key)
            if key in trained:
                continue  # trained on before the resume: not decoded
            untrained[0] += 1
            if untrained[0] <= start:
                continue  # another rank's part of this shard
            try:
                data = self.pipeline(self._results(url, sample))
            except MediaDecodeError as err:
                self._skip(err, (name, key))
                continue
            if data is not None:
                data['data_samples'].set_metainfo(
                    dict(zip(SHARD_META, (name, key))))
                yield data

    def _my_reads(self) -> List[Tuple[str, frozenset,
                                      Optional[Tuple[int, int]]]]:
        """What this process (DataLoader worker) reads in the current
        epoch: ``(url, keys trained before the resume, span or None)``.
        After a resume dealt by :func:`deal_rest`: the rank's spans over
        its workers, each to the one holding the fewest samples so far."""
        resume = self._resume
        if resume is not None and resume['epoch'] != self.epoch:
            resume = None  # a later epoch of persistent workers
        if resume is None:
            return [(url, frozenset(), None) for url in self._my_shards()]
        if self._redealt() is None:
            return [(url, resume['partial'].get(self._names[url],
                                                frozenset()), None)
                    for url in self._my_shards()
                    if self._names[url] not in resume['done']]
        spans = resume['spans']
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        workers = _span_workers(spans, nw)
        urls = {n: u for u, n in self._names.items()}
        return [(urls[n], resume['partial'].get(n, frozenset()), (a, b))
                for (n, a, b), w in zip(spans, workers) if w == wid]

    def _items(self) -> Iterator[Dict]:
        for url, trained, span in self._my_reads():
            try:
                yield from self._shard_items(url, trained, span)
            except MediaDecodeError as err:
                self._skip(err)

    def __iter__(self) -> Iterator[Dict]:
        items = self._items()
        if self.shuffle_buffer > 1:
            from webdataset.filters import _shuffle
            rng = random.Random(
                repr((self.seed, self.epoch, *self._worker_id())))
            items = _shuffle(items, self.shuffle_buffer,
                             min(100, self.shuffle_buffer), rng=rng)
        for data in items:
            if self._reports:  # the main process counts them from here
                data['data_samples'].set_metainfo(
                    {SKIPPED_KEY: tuple(self._reports)})
                self._reports = []
            if self._bad_keys:  # and records them in the progress
                data['data_samples'].set_metainfo(
                    {BAD_KEYS_KEY: tuple(self._bad_keys)})
                self._bad_keys = []
            yield data

    def _worker_id(self):
        info = get_worker_info()
        return (self._rank_world()[0], info.id if info else 0)
