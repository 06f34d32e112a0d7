"""The AVE annotation format (audio-visual event localization)."""
from collections import OrderedDict
from typing import Iterator, List, Optional, Sequence, Tuple

from mmavcl.registry import DATASETS
from .video_dataset import AVVideoDataset

__all__ = ['AVEDataset', 'AVE_HEADER', 'segment_labels_of', 'read_ave_list']

#: the first line of AVE's Annotations.txt (skipped wherever it appears)
AVE_HEADER = 'Category&VideoID&Quality&StartTime&EndTime'


def segment_labels_of(spans: Sequence[Tuple[int, float, float]],
                      num_segments: int, segment_duration: float,
                      background: int) -> List[int]:
    """Per-segment labels of one video: segment ``i`` (``[i d, (i + 1)
    d)`` seconds) takes the category of the span that holds its centre,
    else ``background``. ``spans`` are ``(category, start, end)`` in
    seconds; AVE's are whole seconds, so segment ``i`` is an event segment
    exactly when ``start <= i < end``."""
    labels = [background] * num_segments
    for cat, start, end in spans:
        for i in range(num_segments):
            if start <= (i + 0.5) * segment_duration < end:
                labels[i] = cat
    return labels


@DATASETS.register_module()
class AVEDataset(AVVideoDataset):
    """Videos with per-segment event labels, in AVE's annotation format.

    AVE (Tian et al., ECCV 2018) ships ``Annotations.txt`` and the split
    lists ``trainSet.txt``, ``valSet.txt``, ``testSet.txt``, all in one
    format, one event per line, fields separated by ``&``::

        Category&VideoID&Quality&StartTime&EndTime
        Church bell&RUhOCu3LNXM&good&0&10

    ``Category`` is one of ``classes``, ``VideoID`` names the file
    ``<data_prefix['video']>/<VideoID><video_ext>``, ``Quality`` is not
    used, and the event lasts from ``StartTime`` to ``EndTime`` seconds
    (whole seconds in AVE). The header line may be present or not. Each
    video of 10 s is cut into ``num_segments`` segments of
    ``segment_duration`` s; a segment is labelled with the category of the
    event that covers its centre, every other segment with the background
    label ``len(classes)``. A video on several lines gets every span (two
    categories on one segment is an error).

    Each sample's ``results`` holds, besides :class:`AVVideoDataset`'s keys,
    ``label`` (the category index of the video's event) and
    ``segment_labels`` (``list[int]`` of length ``num_segments``), which
    ``PackAVInputs(meta_keys=('segment_labels', ))`` carries into the data
    sample for :class:`~mmavcl.models.AVEventLocalizer` and
    :class:`~mmavcl.evaluation.SegmentAccuracyMetric`.

    Args:
        ann_file: An AVE split list (``testSet.txt`` ...).
        classes: The category names in label order (AVE: 28).
        num_segments: Segments per video (AVE: 10).
        segment_duration: Seconds per segment (AVE: 1).
        video_ext: Extension added to the video id.
        **kwargs: :class:`AVVideoDataset`'s arguments (``with_label``,
            ``multi_label`` and ``num_classes`` are set here).
    """

    def __init__(self,
                 ann_file: str,
                 classes: Sequence[str] = (),
                 num_segments: int = 10,
                 segment_duration: float = 1.0,
                 video_ext: str = '.mp4',
                 **kwargs) -> None:
        if not classes:
            raise ValueError('AVEDataset needs `classes`, the category names '
                             'in label order')
        self.classes = tuple(classes)
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f'AVEDataset: repeated class names in '
                             f'{self.classes}')
        self.num_segments = int(num_segments)
        self.segment_duration = float(segment_duration)
        self.video_ext = video_ext
        for key in ('with_label', 'multi_label', 'num_classes'):
            kwargs.pop(key, None)
        kwargs.setdefault('metainfo', {})
        kwargs['metainfo'] = dict(kwargs['metainfo'], classes=self.classes,
                                  background=len(self.classes))
        super().__init__(ann_file, with_label=True,
                         num_classes=len(self.classes), **kwargs)

    @property
    def background(self) -> int:
        """The background label (after the categories)."""
        return len(self.classes)

    def _parse_lines(self, lines) -> Iterator[Tuple[int, Optional[dict],
                                                 Optional[str]]]:
        """Records of AVE lines; a video's lines are merged (reported at
        its first line)."""
        index = {c: i for i, c in enumerate(self.classes)}
        videos: 'OrderedDict[str, Tuple[int, List[tuple]]]' = OrderedDict()
        length = self.num_segments * self.segment_duration
        for lineno, text, error in lines:
            if error is not None:
                yield lineno, None, error
                continue
            text = text.strip()
            if not text or text == AVE_HEADER:
                continue
            fields = text.split('&')
            if len(fields) != 5:
                yield lineno, None, (
                    f'{len(fields)} fields in {text!r}, expected 5: '
                    f'{AVE_HEADER}')
                continue
            cat, vid, _, start, end = (f.strip() for f in fields)
            if cat not in index:
                yield lineno, None, (f'unknown category {cat!r} (classes: '
                                     f'{", ".join(self.classes[:5])}...)')
                continue
            try:
                t0, t1 = float(start), float(end)
            except ValueError:
                yield lineno, None, (f'StartTime/EndTime {start!r}/{end!r} '
                                     'are not numbers')
                continue
            if not 0 <= t0 < t1 <= length:
                yield lineno, None, (
                    f'event [{start}, {end}) s outside the video\'s '
                    f'[0, {length:g}) s or empty')
                continue
            videos.setdefault(vid, (lineno, []))[1].append(
                (index[cat], t0, t1))
        for vid, (lineno, spans) in videos.items():
            labels = segment_labels_of(spans, self.num_segments,
                                       self.segment_duration,
                                       self.background)
            clash = [
                i for i in range(self.num_segments)
                if len({c for c, t0, t1 in spans
                        if t0 <= (i + .5) * self.segment_duration < t1}) > 1
            ]
            if clash:
                yield lineno, None, (f'{vid}: segments {clash} lie in events '
                                     f'of different categories')
                continue
            yield lineno, dict(filename=vid + self.video_ext,
                               label=spans[0][0],
                               segment_labels=labels), None

    def get_cat_ids(self, idx: int) -> List[int]:
        return [self.get_data_info(idx)['label']]


def read_ave_list(path: str) -> List[Tuple[str, str, float, float]]:
    """``(category, video id, start, end)`` of every line of an AVE list
    (header skipped), for tools and tests that check a list against media.
    """
    out = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if line and line != AVE_HEADER:
                cat, vid, _, start, end = line.split('&')
                out.append((cat, vid, float(start), float(end)))
    return out
