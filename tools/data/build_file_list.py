"""Build MMAction2-style annotation lists (``path label`` per line), and
the sound-localization test sets' JSON lists.

Sources:

``folder``   a folder of class sub-folders (``<src>/<class>/<file>``);
             classes are numbered in sorted order; optional random
             train/val split.
``ucf101``   the official split files (``classInd.txt``,
             ``trainlist0{k}.txt``, ``testlist0{k}.txt``) ->
             ``ucf101_{train,val}_split_{k}_videos.txt`` (0-based labels).
``hmdb51``   the official ``testTrainMulti_7030_splits`` folder
             (``<class>_test_split{k}.txt``: 1 = train, 2 = test) ->
             ``hmdb51_{train,val}_split_{k}_videos.txt`` (classes sorted).
``esc50``    ``meta/esc50.csv`` -> ``esc50_{train,test}_fold{k}.txt`` for the
             5 folds (the train list of fold k holds the other folds).
``lrw``      LRW's ``lipread_mp4/<WORD>/{train,val,test}/<WORD>_<n>.mp4``
             -> ``lrw_{train,val,test}_list.txt`` (the 500 words numbered
             in sorted order, ``lrw_classes.txt``).
``ffpp``     FaceForensics++'s official split JSONs (``train.json``,
             ``val.json``, ``test.json``: lists of ``["071", "054"]``
             target/source pairs, 360/70/70) ->
             ``ffpp_{train,val,test}_<compression>.txt``: per pair both
             originals (label 0, ``original_sequences/youtube/<c>/videos/
             071.mp4``) and both fakes of every manipulation (label 1,
             ``manipulated_sequences/<method>/<c>/videos/071_054.mp4`` and
             ``054_071.mp4``), i.e. 720/140/140 real videos.
``flickr_soundnet``  Senocak et al.'s (CVPR 2018) sound-localization
             annotations, one XML per image (``<id>.xml``) ->
             ``sound_localization_test.json``, the list of
             ``configs/_base_/datasets/
             bench_flickr_soundnet_sound_localization.py``.
``vggss``    VGG-SS's ``vggss.json`` (Chen et al., CVPR 2021) -> the same
             list (``configs/_base_/datasets/
             bench_vggss_sound_localization.py``).

The two sound-localization sources need the videos (``--videos``): the
annotated frame's index comes from each video's frame count and rate as
the dataset reads them (:class:`~mmavcl.datasets.transforms.VideoInit`).
A missing or unreadable video is skipped and reported (its name, and the
list of them in ``missing_videos.txt`` next to the list); malformed
annotations stop the run with an error naming the file and the entry.
See :func:`flickr_soundnet_list` and :func:`vggss_list` for the formats
and the frame each one annotates.

Examples::

    python tools/data/build_file_list.py folder --src data/mine/videos \\
        --out-dir data/mine --val-ratio 0.1
    python tools/data/build_file_list.py ucf101 \\
        --src data/ucf101/ucfTrainTestlist --out-dir data/ucf101
    python tools/data/build_file_list.py hmdb51 \\
        --src data/hmdb51/testTrainMulti_7030_splits --out-dir data/hmdb51
    python tools/data/build_file_list.py esc50 \\
        --src data/esc50/meta/esc50.csv --out-dir data/esc50
    python tools/data/build_file_list.py lrw \\
        --src data/lrw/lipread_mp4 --out-dir data/lrw
    python tools/data/build_file_list.py ffpp --src data/ffpp/splits \\
        --out-dir data/ffpp --compression c23
    python tools/data/build_file_list.py flickr_soundnet \\
        --src data/flickr_soundnet/Annotations \\
        --ids data/flickr_soundnet/test_list.txt \\
        --videos data/flickr_soundnet/videos --out-dir data/flickr_soundnet
    python tools/data/build_file_list.py vggss --src data/vggss/vggss.json \\
        --videos data/vggsound/videos --out-dir data/vggss --clip-boxes

Remote sources: ``--src`` may be a URI (``s3://``, ``gs://``,
``http(s)://``, read through mmengine's fileio with ``--backend-args``):
the split files, FF++'s split JSONs and ``esc50.csv`` are read from it;
``folder``, ``hmdb51`` and ``lrw`` need a folder listing, which the object-store and HTTP backends
do not offer (a clear error says so). ``vggss.json`` may be a URI too;
the Flickr-SoundNet XMLs and the videos of both are read from disk. The
lists are written locally.

Many jobs (``--num-parts N --part I``; a Slurm array runs them with
``tools/data/slurm_array.sh``): ``folder`` walks every N-th class folder
from the I-th on (the walk is what takes long on a million files; labels
stay the indices among all classes, and the val split of a class does not
depend on N); the other sources keep every N-th line of each list. Each
part writes ``NAME.part-I-of-N.txt`` (``classes.txt`` whole);
``cat NAME.part-*-of-N.txt`` gives the list of one run, up to line order.
``flickr_soundnet`` and ``vggss`` write one JSON list (one run, its video
probes spread over ``--workers`` processes).
"""
import argparse
import csv
import glob
import io
import os
import os.path as osp
import random
from typing import Dict, List, Optional, Sequence, Tuple

from mmavcl.datasets.media import VIDEO_EXTS
from mmavcl.utils.data_lists import (add_backend_args, add_part_args,
                                     check_part_args, is_remote, join_path,
                                     list_files, part_path, read_bytes,
                                     select_part)

MEDIA_EXTS = VIDEO_EXTS + ('.wav', '.flac', '.mp3', '.ogg', '.m4a')


def _write(path: str, lines: Sequence[str]) -> str:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + ('\n' if lines else ''))
    print(f'{path}: {len(lines)} lines')
    return path


def _need(path: str, backend_args: Optional[dict] = None) -> str:
    # a URI is not probed: reading it fails with an error naming it
    if not is_remote(path, backend_args) and not osp.exists(path):
        raise SystemExit(f'error: {path} does not exist')
    return path


def _text(path: str, backend_args: Optional[dict] = None) -> io.StringIO:
    """A local file or a URI as text (utf-8)."""
    return io.StringIO(read_bytes(_need(path, backend_args), backend_args,
                                  'annotation').decode('utf-8-sig'))


def from_folder(src: str,
                exts: Sequence[str] = MEDIA_EXTS,
                num_parts: int = 1,
                part: int = 0,
                backend_args: Optional[dict] = None
                ) -> Tuple[List[str], List[str]]:
    """``(lines, classes)`` for ``src/<class>/<file>`` (recursive): the
    files of this part's classes (every ``num_parts``-th), labelled by
    their index among all classes."""
    if is_remote(src, backend_args):
        # one listing of the whole tree (object stores list keys, not
        # folders): the classes are the first path components
        files = list_files(src, exts, backend_args)
        classes = sorted({f.split('/')[0] for f in files if '/' in f})
    else:
        classes = sorted(d for d in os.listdir(_need(src))
                         if osp.isdir(osp.join(src, d)))
    if not classes:
        raise SystemExit(f'error: {src} holds no class sub-folders')
    lines = []
    for cls in select_part(classes, num_parts, part):
        label = classes.index(cls)
        if is_remote(src, backend_args):
            rels = [f for f in files if f.startswith(cls + '/')]
        else:
            rels = [osp.relpath(p, src).replace(os.sep, '/')
                    for p in sorted(glob.glob(osp.join(src, cls, '**', '*'),
                                              recursive=True))
                    if osp.splitext(p)[1].lower() in exts]
        for rel in rels:
            if ' ' in rel:
                raise SystemExit(f'error: {rel!r} has a space; text '
                                 'lists split on whitespace')
            lines.append(f'{rel} {label}')
    return lines, classes


def ucf101_split(src: str, split: int,
                 backend_args: Optional[dict] = None) -> Dict[str, List[str]]:
    """Train/val lines of UCF101 split ``split`` (1-3)."""
    class_ind = {}
    with _text(join_path(src, 'classInd.txt'), backend_args) as f:
        for line in f:
            if line.strip():
                idx, name = line.split()
                class_ind[name] = int(idx) - 1
    out = {}
    for part, fname in (('train', f'trainlist0{split}.txt'),
                        ('val', f'testlist0{split}.txt')):
        lines = []
        with _text(join_path(src, fname), backend_args) as f:
            for line in f:
                if not line.strip():
                    continue
                rel = line.split()[0]
                lines.append(f'{rel} {class_ind[rel.split("/")[0]]}')
        out[part] = lines
    return out


def hmdb51_split(src: str, split: int,
                 backend_args: Optional[dict] = None) -> Dict[str, List[str]]:
    """Train/val lines of HMDB51 split ``split`` (1-3)."""
    suffix = f'_test_split{split}.txt'
    files = [f for f in list_files(_need(src, backend_args), ('.txt', ),
                                   backend_args)
             if '/' not in f and f.endswith(suffix)]
    if not files:
        raise SystemExit(f'error: no *_test_split{split}.txt in {src}')
    classes = sorted(f[:-len(suffix)] for f in files)
    out = {'train': [], 'val': []}
    for label, cls in enumerate(classes):
        with _text(join_path(src, cls + suffix), backend_args) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 2:
                    continue
                name, tag = parts
                if tag == '1':
                    out['train'].append(f'{cls}/{name} {label}')
                elif tag == '2':
                    out['val'].append(f'{cls}/{name} {label}')
    return out


def esc50_folds(csv_path: str, backend_args: Optional[dict] = None
                ) -> Dict[int, Dict[str, List[str]]]:
    """Per fold k: ``{'train': other folds, 'test': fold k}``."""
    rows = []
    with _text(csv_path, backend_args) as f:
        for row in csv.DictReader(f):
            rows.append((row['filename'], int(row['fold']),
                         int(row['target'])))
    folds = sorted({r[1] for r in rows})
    return {
        k: {
            'train': [f'{n} {t}' for n, fold, t in rows if fold != k],
            'test': [f'{n} {t}' for n, fold, t in rows if fold == k],
        }
        for k in folds
    }


LRW_SPLITS = ('train', 'val', 'test')
FFPP_METHODS = ('Deepfakes', 'Face2Face', 'FaceSwap', 'NeuralTextures')


def lrw_lists(src: str, backend_args: Optional[dict] = None
              ) -> Tuple[Dict[str, List[str]], List[str]]:
    """``({split: lines}, words)`` of LRW's ``<WORD>/<split>/*.mp4`` tree
    (labels: the words in sorted order)."""
    files = [f.split('/') for f in list_files(_need(src, backend_args),
                                              ('.mp4', ), backend_args)]
    files = [f for f in files if len(f) == 3 and f[1] in LRW_SPLITS]
    words = sorted({word for word, _, _ in files})
    if not words:
        raise SystemExit(f'error: {src} holds no <WORD>/<split>/*.mp4')
    label = {word: i for i, word in enumerate(words)}
    out = {split: [] for split in LRW_SPLITS}
    for word, split, name in files:  # sorted by list_files
        out[split].append(f'{word}/{split}/{name} {label[word]}')
    return out, words


def ffpp_lists(split_dir: str, compression: str = 'c23',
               methods: Sequence[str] = FFPP_METHODS,
               backend_args: Optional[dict] = None
               ) -> Dict[str, List[str]]:
    """``{split: lines}`` of FaceForensics++ from its split JSONs: 0 real,
    1 fake (paths as its download script lays them out)."""
    import json
    real = f'original_sequences/youtube/{compression}/videos'
    out = {}
    for split in LRW_SPLITS:
        pairs = json.load(_text(f'{split_dir.rstrip("/")}/{split}.json',
                                backend_args))
        lines = []
        for pair in pairs:
            if len(pair) != 2:
                raise SystemExit(f'error: {split}.json: {pair!r} is not a '
                                 'pair of video ids')
            a, b = pair
            lines += [f'{real}/{a}.mp4 0', f'{real}/{b}.mp4 0']
            for method in methods:
                fake = f'manipulated_sequences/{method}/{compression}/videos'
                lines += [f'{fake}/{a}_{b}.mp4 1', f'{fake}/{b}_{a}.mp4 1']
        out[split] = lines
    return out


#: the sound-localization list both benchmark configs read
SOUND_LOC_LIST = 'sound_localization_test.json'
#: pixel grid of the Flickr-SoundNet XML boxes when the file gives no
#: ``<size>``: the public evaluation code (Senocak et al.'s data as LVS,
#: Chen et al. 2021, and EZ-VSL read it) maps every box coordinate ``v`` to
#: ``224 * v / 256`` on a 224x224 map, i.e. boxes on a 256x256 image
FLICKR_GRID = (256, 256)
#: VGG-SS annotates the frame at 5 s of the 10 s VGG-Sound clip
VGGSS_TIME = 5.0
#: ``flickr_soundnet`` box corners, by name or (the public evaluation
#: code's reading) the four elements after the first one of ``<bbox>``
_CORNERS = ('xmin', 'ymin', 'xmax', 'ymax')

#: annotators' boxes of one frame: ``[[[x1, y1, x2, y2], ...], ...]``
Annotators = List[List[List[float]]]


def check_box(box: Sequence, where: str, clip: bool = False,
              dropped: Optional[List[str]] = None) -> Optional[List[float]]:
    """One ``[x1, y1, x2, y2]`` box normalised to ``[0, 1]``, checked.

    A box that holds no pixel (``x1 == x2`` or ``y1 == y2``; VGG-SS has
    such boxes) is dropped: ``None``, and ``where`` appended to
    ``dropped``. With ``clip`` (what the public evaluation code does: it
    clips VGG-SS's corners to ``[0, 1]``) the corners are clipped first and
    a box left with ``x2 <= x1`` or ``y2 <= y1`` is dropped as well.

    Raises:
        ValueError: naming ``where``: not four numbers; without ``clip``,
            a corner outside ``[0, 1]`` or ``x2 < x1`` / ``y2 < y1``.
    """
    try:
        box = [float(v) for v in box]
    except (TypeError, ValueError):
        box = None
    if box is None or len(box) != 4 or \
            any(v != v or v in (float('inf'), -float('inf')) for v in box):
        raise ValueError(f'{where}: a box is four numbers x1, y1, x2, y2')
    if clip:
        box = [min(max(v, 0.0), 1.0) for v in box]
    x1, y1, x2, y2 = box
    if not clip:
        if min(box) < 0 or max(box) > 1:
            raise ValueError(
                f'{where}: box {box} is outside [0, 1] once normalised '
                '(--clip-boxes clips the corners, as the public evaluation '
                'code does)')
        if x2 < x1 or y2 < y1:
            raise ValueError(f'{where}: box {box} has x2 < x1 or y2 < y1')
    if x2 <= x1 or y2 <= y1:
        if dropped is not None:
            dropped.append(f'{where}: {box}')
        return None
    return box


def read_ids(path: str, backend_args: Optional[dict] = None) -> List[str]:
    """Sample ids of a test list: the first field of every line (comma or
    white-space separated), extension dropped: ``test_list.txt``
    (``2432219254.png``), ``flickr_test.csv`` (``10000130166,202``),
    ``vggss_test.csv`` (``zpWuikVorYg_000032``)."""
    ids = []
    for line in _text(path, backend_args):
        field = line.replace(',', ' ').split()
        if field:
            ids.append(osp.splitext(field[0])[0])
    return ids


def flickr_xml_boxes(path: str,
                     image_size: Optional[Tuple[int, int]] = None
                     ) -> Annotators:
    """The boxes of one Flickr-SoundNet XML, per annotator, normalised.

    The released files (read here as the public evaluation code reads
    them): the root's children are the annotators; each holds ``<bbox>``
    elements whose corners are ``<xmin> <ymin> <xmax> <ymax>`` (taken by
    name, else, as that code does, the four elements after the first one),
    integer pixels. They are divided by the image size: ``<size>``'s
    ``<width>``/``<height>`` when the file has it (the released files do
    not), else ``image_size`` ``(W, H)``, else :data:`FLICKR_GRID`.

    Raises:
        ValueError: naming the file, annotator and box: malformed XML, a
            corner that is not a number, a box outside the image or with
            ``x2 < x1``, no box at all.
    """
    import xml.etree.ElementTree as ET
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as err:
        raise ValueError(f'{path}: malformed XML ({err})') from None
    size = root.find('size')
    if size is not None:
        try:
            w, h = (int(size.find(k).text) for k in ('width', 'height'))
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f'{path}: <size> needs integer <width> and '
                             '<height>') from None
    else:
        w, h = image_size or FLICKR_GRID
    annotators, dropped = [], []
    for a, child in enumerate(c for c in root if c.find('bbox') is not None):
        boxes = []
        for b, bbox in enumerate(child.findall('bbox')):
            where = f'{path}: annotator {a} (<{child.tag}>), box {b}'
            named = [bbox.find(k) for k in _CORNERS]
            corners = named if all(e is not None for e in named) \
                else list(bbox)[1:5]
            try:
                px = [float(e.text) for e in corners]
            except (TypeError, ValueError):
                px = []
            if len(px) != 4:
                raise ValueError(f'{where}: expected {"/".join(_CORNERS)} '
                                 'pixel corners')
            box = check_box([px[0] / w, px[1] / h, px[2] / w, px[3] / h],
                            f'{where} (pixels {px}, image {w}x{h})',
                            dropped=dropped)
            if box is not None:
                boxes.append(box)
        if boxes:
            annotators.append(boxes)
    if dropped:
        print('\n'.join(f'dropped (no pixel): {d}' for d in dropped))
    if not annotators:
        raise ValueError(f'{path}: no <bbox> with a pixel in it')
    return annotators


def video_frame_count(path: str) -> Tuple[int, float]:
    """``(number of frames, fps)`` of a video as the datasets read it
    (:class:`~mmavcl.datasets.transforms.VideoInit`, whose frame indices
    the annotation list uses).

    Raises:
        MediaDecodeError: naming the file (missing, unreadable).
    """
    from mmavcl.datasets.transforms import VideoInit
    from mmavcl.datasets.transforms.decoding import close_container
    results = VideoInit()(dict(filename=path))
    results['video_reader'].close()
    close_container(results)
    return int(results['total_frames']), float(results['fps'])


def annotated_frame(path: str, dataset: str) -> int:
    """Index of the annotated frame of a video: ``flickr_soundnet``, the
    middle frame (``T // 2`` of its ``T`` frames); ``vggss``, the frame
    shown at :data:`VGGSS_TIME` (``floor(5 * fps)``, the last one in a clip
    shorter than 5 s)."""
    num, fps = video_frame_count(path)
    if dataset == 'vggss':
        # 1e-6: 5 * 29.97 is 149.85, 5 * 30 must not fall to 149.99..
        return min(int(VGGSS_TIME * fps + 1e-6), num - 1)
    return num // 2


def _frames_of(video: str, dataset: str):
    """``(frame index, None)`` or ``(None, why)`` for an unusable video."""
    from mmavcl.datasets import MediaDecodeError
    if not osp.isfile(video):
        return None, 'missing'
    try:
        return annotated_frame(video, dataset), None
    except MediaDecodeError as err:
        return None, str(err)


def sound_localization_records(entries: Sequence[Tuple[str, Annotators]],
                               videos: str, dataset: str, ext: str = '.mp4',
                               workers: int = 1
                               ) -> Tuple[List[dict], List[str]]:
    """``(records, skipped)``: one list record per ``(id, annotators)``
    whose video ``videos/<id><ext>`` opens, at its annotated frame
    (:func:`annotated_frame`); ``skipped``: ``'<video>: <why>'`` of the
    others."""
    from mmavcl.utils.data_lists import run_parallel
    found = run_parallel(_frames_of, [(osp.join(videos, i + ext), dataset)
                                      for i, _ in entries],
                         workers, f'probing {dataset} videos', 'video')
    records, skipped = [], []
    for (vid, annotators), (frame, why) in zip(entries, found):
        if frame is None:
            skipped.append(f'{osp.join(videos, vid + ext)}: {why}')
            continue
        records.append(dict(filename=vid + ext,
                            frames={str(frame): annotators}))
    return records, skipped


def flickr_soundnet_list(src: str, videos: str,
                         ids: Optional[Sequence[str]] = None,
                         image_size: Optional[Tuple[int, int]] = None,
                         workers: int = 1) -> Tuple[List[dict], List[str]]:
    """Flickr-SoundNet's list from the folder of ``<id>.xml``
    (:func:`flickr_xml_boxes`; all of them, or the ``ids``: the 250 test
    pairs of the cIoU protocol are Senocak et al.'s ``test_list.txt``, LVS's
    ``metadata/flickr_test.csv`` names 249 of them).

    The annotated image is one frame of the video ``<id>.mp4``; which frame
    the release does not say. mmavcl takes the middle frame (where the
    benchmark config's 16-frame clip is centred): EZ-VSL's evaluation (Mo
    and Morgado 2022) pairs the image with the 3 s of audio centred on the
    middle of the recording (LVS's takes its first 20 s), so the middle is
    where the public protocol puts the image in time.

    Returns:
        ``(records, skipped videos)``, see :func:`sound_localization_records`.
    """
    if ids is None:
        ids = [osp.splitext(f)[0] for f in list_files(_need(src), ('.xml', ))
               if '/' not in f]
    entries = []
    for vid in ids:
        xml = osp.join(src, vid + '.xml')
        if not osp.isfile(xml):
            raise ValueError(f'{xml}: no annotation for test id {vid!r}')
        entries.append((vid, flickr_xml_boxes(xml, image_size)))
    return sound_localization_records(entries, videos, 'flickr_soundnet',
                                      workers=workers)


def vggss_list(src: str, videos: str, ids: Optional[Sequence[str]] = None,
               clip: bool = False, workers: int = 1,
               backend_args: Optional[dict] = None
               ) -> Tuple[List[dict], List[str]]:
    """VGG-SS's list from ``vggss.json`` (LVS's ``metadata/vggss.json``: a
    list of ``{"file": "<ytid>_<start, 6 digits>", "class": ..., "bbox":
    [[x1, y1, x2, y2], ...]}``, corners already normalised to ``[0, 1]``),
    one annotator, at the frame shown at 5 s (:func:`annotated_frame`) of
    ``<file>.mp4``. ``ids``: keep those entries (e.g. EZ-VSL's
    heard/unheard test csv).

    The released file holds boxes the evaluation cannot use: corners of
    about ``-2.9e16`` (12 boxes) and boxes of no area (6). Without ``clip``
    the first are an error naming the entry; with ``clip`` they are
    clipped to ``[0, 1]`` as LVS's and EZ-VSL's evaluation does and dropped
    when nothing is left of them (they hold no pixel there either). An
    entry without any box left is skipped and reported (the public code
    scores it cIoU 0 against an empty map; the list format needs a box).
    """
    import json
    try:
        data = json.load(_text(src, backend_args))
    except json.JSONDecodeError as err:
        raise ValueError(f'{src}: not JSON ({err})') from None
    if not isinstance(data, list):
        raise ValueError(f'{src}: expected a list of {{"file", "bbox"}} '
                         'entries')
    keep = set(ids) if ids is not None else None
    entries, dropped, empty = [], [], []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or \
                not isinstance(entry.get('file'), str) or \
                not isinstance(entry.get('bbox'), list):
            raise ValueError(f'{src}: entry {i} needs a string "file" and a '
                             '"bbox" list')
        if keep is not None and entry['file'] not in keep:
            continue
        where = f'{src}: entry {i} ({entry["file"]})'
        boxes = [check_box(b, f'{where}, box {j}', clip, dropped)
                 for j, b in enumerate(entry['bbox'])]
        boxes = [b for b in boxes if b is not None]
        if not boxes:
            empty.append(f'{where}: no box with a pixel in it, skipped')
            continue
        entries.append((entry['file'], [boxes]))
    if keep is not None:
        absent = sorted(keep - {e['file'] for e in data
                                if isinstance(e, dict)})
        if absent:
            raise ValueError(f'{src}: no entry for {len(absent)} of the '
                             f'ids, e.g. {absent[:3]}')
    if dropped:
        print('\n'.join(f'dropped (no pixel): {d}' for d in dropped))
    if empty:
        print('\n'.join(empty))
    return sound_localization_records(entries, videos, 'vggss',
                                      workers=workers)


def write_sound_localization_list(path: str, records: List[dict],
                                  skipped: List[str], source: str) -> str:
    """The JSON list (``{"metainfo", "data_list"}``); the skipped videos
    printed and written to ``missing_videos.txt`` beside it (removed when
    none is)."""
    import json
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(metainfo=dict(
            source=source, box_format='xyxy, normalised',
            frame='middle' if source == 'flickr_soundnet' else '5 s'),
            data_list=records), f)
    print(f'{path}: {len(records)} videos')
    missing = osp.join(osp.dirname(osp.abspath(path)), 'missing_videos.txt')
    if skipped:
        _write(missing, skipped)
        print(f'skipped {len(skipped)} video(s) (listed in {missing}):\n' +
              '\n'.join(skipped))
    elif osp.exists(missing):
        os.remove(missing)
    return path


SOUND_LOC_SOURCES = ('flickr_soundnet', 'vggss')


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Build annotation lists.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    p.add_argument('source', choices=['folder', 'ucf101', 'hmdb51', 'esc50',
                                      'lrw', 'ffpp', 'flickr_soundnet',
                                      'vggss'])
    p.add_argument('--src', required=True,
                   help='class folder, split-file folder, esc50.csv, the '
                   'folder of Flickr-SoundNet XMLs or vggss.json')
    p.add_argument('--out-dir', required=True)
    p.add_argument('--prefix', default='', help='list name prefix (folder)')
    p.add_argument('--val-ratio', type=float, default=0.0,
                   help='folder: fraction per class held out for val')
    p.add_argument('--splits', type=int, nargs='+', default=[1, 2, 3])
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--compression', default='c23',
                   choices=['raw', 'c23', 'c40'], help='ffpp')
    p.add_argument('--methods', nargs='+', default=list(FFPP_METHODS),
                   help='ffpp: manipulations counted as fake')
    p.add_argument('--videos', help='flickr_soundnet, vggss: the folder '
                   'of <id>.mp4, read for the annotated frame index')
    p.add_argument('--ids', help='flickr_soundnet, vggss: only these ids '
                   '(first field of each line: test_list.txt, '
                   'flickr_test.csv, vggss_test.csv)')
    p.add_argument('--image-size', type=int, nargs=2, metavar=('W', 'H'),
                   help='flickr_soundnet: pixel size of the XML boxes when a '
                   'file has no <size> (default: 256 256, the public '
                   'evaluation code\'s)')
    p.add_argument('--clip-boxes', action='store_true',
                   help='vggss: clip corners to [0, 1] as the public '
                   'evaluation code does (the released vggss.json needs '
                   'it) instead of refusing them')
    p.add_argument('--workers', type=int, default=1,
                   help='flickr_soundnet, vggss: processes reading videos')
    add_part_args(p)
    add_backend_args(p)
    args = p.parse_args(argv)
    check_part_args(p, args)
    if args.source in SOUND_LOC_SOURCES:
        if not args.videos:
            p.error(f'{args.source} needs --videos (the annotated frame '
                    'index comes from each video)')
        if args.num_parts != 1:
            p.error(f'{args.source} writes one JSON list: no --num-parts')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    out, bargs = args.out_dir, args.backend_args

    def write(name: str, lines: Sequence[str]) -> str:
        """This part's list (all of it with one part)."""
        return _write(part_path(osp.join(out, name), args.num_parts,
                                args.part), lines)

    def this_part(lines: Sequence[str]) -> List[str]:
        return select_part(lines, args.num_parts, args.part)

    if args.source == 'folder':
        lines, classes = from_folder(args.src, MEDIA_EXTS, args.num_parts,
                                     args.part, bargs)
        prefix = args.prefix + ('_' if args.prefix else '')
        _write(osp.join(out, f'{prefix}classes.txt'), classes)
        if args.val_ratio > 0:
            by_class: Dict[str, List[str]] = {}
            for line in lines:
                by_class.setdefault(line.rsplit(' ', 1)[1], []).append(line)
            train, val = [], []
            for label, items in by_class.items():
                # seeded per class: the split of a class is the same
                # whichever part (of any --num-parts) walks it
                rng = random.Random(f'{args.seed}/{label}')
                rng.shuffle(items)
                k = max(1, int(round(len(items) * args.val_ratio)))
                val += sorted(items[:k])
                train += sorted(items[k:])
            write(f'{prefix}train.txt', train)
            write(f'{prefix}val.txt', val)
        else:
            write(f'{prefix}all.txt', lines)
    elif args.source in ('ucf101', 'hmdb51'):
        fn = ucf101_split if args.source == 'ucf101' else hmdb51_split
        for k in args.splits:
            for split, lines in fn(args.src, k, bargs).items():
                write(f'{args.source}_{split}_split_{k}_videos.txt',
                      this_part(lines))
    elif args.source == 'lrw':
        splits, words = lrw_lists(args.src, bargs)
        _write(osp.join(out, 'lrw_classes.txt'), words)
        for split, lines in splits.items():
            write(f'lrw_{split}_list.txt', this_part(lines))
    elif args.source in SOUND_LOC_SOURCES:
        ids = read_ids(args.ids, bargs) if args.ids else None
        try:
            if args.source == 'vggss':
                records, skipped = vggss_list(args.src, args.videos, ids,
                                              args.clip_boxes, args.workers,
                                              bargs)
            else:
                records, skipped = flickr_soundnet_list(
                    args.src, args.videos, ids, args.image_size,
                    args.workers)
        except ValueError as err:
            raise SystemExit(f'error: {err}')
        if not records and skipped:
            raise SystemExit(
                f'error: none of the {len(skipped)} videos opens (e.g. '
                f'{skipped[0]}): is --videos {args.videos} their folder?')
        write_sound_localization_list(osp.join(out, SOUND_LOC_LIST),
                                      records, skipped, args.source)
    elif args.source == 'ffpp':
        for split, lines in ffpp_lists(args.src, args.compression,
                                       args.methods, bargs).items():
            write(f'ffpp_{split}_{args.compression}.txt', this_part(lines))
    else:
        for k, splits in esc50_folds(args.src, bargs).items():
            for split, lines in splits.items():
                write(f'esc50_{split}_fold{k}.txt', this_part(lines))


if __name__ == '__main__':
    main()
