"""Time spans of decoded views and the labels that depend on them.

A view sampler picks frame *indices*; which frames the file shows for them
is known only once they are decoded: a reader returns for index ``i`` the
first frame whose time rounds to ``i / fps`` or later (at or after
``(i - 1/2) / fps``), which in a variable-frame-rate (VFR) file can be
up to the longest frame gap minus half a frame after ``i / fps``. So the
spans that cut the audio and decide order labels are settled here, from
the presentation times the reader reports, by one function,
:func:`resolve_spans`, that both decoders call:

* a video view with ``frame_times`` (set by
  :class:`~.decoding.DecodeVideoViews`; seconds from the first displayed
  frame, the views' time 0) and a ``frame_period`` (seconds between its
  consecutive frames on the sampler's timeline: ``frame_interval * speed /
  fps``, written by the samplers) covers
  ``[first frame, last frame + frame_period)`` (:func:`view_time_span`):
  from the first frame it shows to the moment its next frame would be
  shown, in the order of time whatever the playback direction;
* an audio view that follows a video view (``video_view >= 0``) covers
  that view's span, scaled from its start by ``audio speed / video speed``
  (1 unless the sampler drew the audio's speed apart); its own ``speed``
  and ``reversed`` say how the decoder plays it;
* every label the sampler declared in ``results['span_relations']``
  (``name -> ((modality, index), (modality, index))``) is recomputed as
  :func:`temporal_relation` of the two views' final spans, so the labels
  are the relations of the spans that are decoded. A label the sampler set
  to :data:`ORDER_IGNORE` stays ignored.

* an audio view that follows a video view at its speed and direction
  also gets ``frame_edges`` (:func:`frame_edges`): where each of the
  view's frames starts in the audio as played, as a fraction of its
  length (a reversed view's from its played end). In a constant-rate file
  these are ``t / T``; in a VFR file frames last 20-50 ms, and
  ``AVDataPreprocessor(audio_cfg=dict(num_steps=...))`` uses them to give
  each frame its own steps of the log-mel (GLCL's local bags).

Views without ``frame_period`` (the CtrlAug global view: sparse frames that
sample a window) keep the window the sampler chose, and so does a view whose
frames wrap around the end (``out_of_bound='loop'``): neither is one
contiguous run of frames whose span the frames could tell.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    'ORDER_BEFORE', 'ORDER_AFTER', 'ORDER_OVERLAP', 'ORDER_IGNORE',
    'temporal_relation', 'view_time_span', 'frame_edges', 'resolve_spans'
]

ORDER_BEFORE, ORDER_AFTER, ORDER_OVERLAP = 0, 1, 2
#: an order label masked out of the loss: the sampler could not make every
#: relation possible for the sample's spans, so the label would leak them
ORDER_IGNORE = -1


def temporal_relation(a: Tuple[float, float], b: Tuple[float, float]) -> int:
    """Order label of span ``a`` relative to span ``b``.

    Returns ``ORDER_BEFORE`` (0) when ``a`` ends no later than ``b`` starts,
    ``ORDER_AFTER`` (1) when ``b`` ends no later than ``a`` starts, else
    ``ORDER_OVERLAP`` (2).
    """
    if a[1] <= b[0] + 1e-9:
        return ORDER_BEFORE
    if b[1] <= a[0] + 1e-9:
        return ORDER_AFTER
    return ORDER_OVERLAP


def view_time_span(frame_times: Sequence[float], frame_period: float,
                   reversed_: bool = False) -> Optional[Tuple[float, float]]:
    """The span (s) a view's frames cover, from their presentation times.

    Args:
        frame_times: float ``(T,)`` presentation times (s from the first
            displayed frame) of the view's frames, in its playback order.
        frame_period: Seconds between consecutive frames of the view on
            the sampler's timeline (``frame_interval * speed / fps``); the
            last frame covers that long, as in a constant-rate file.
        reversed_: The view plays backwards (``frame_times`` descend).

    Returns:
        ``(t0, t1)`` = ``(first frame's time, last frame's time +
        frame_period)`` in time order, or ``None`` when the frames
        are not in time order (a view that wraps around the end).
    """
    t = np.asarray(frame_times, dtype=np.float64).reshape(-1)
    if not len(t):
        return None
    if reversed_:
        t = t[::-1]
    if np.any(np.diff(t) < -1e-9):
        return None  # wrapped ('loop'): not one run of frames
    return float(t[0]), float(t[-1] + float(frame_period))


def frame_edges(frame_times: Sequence[float],
                span: Tuple[float, float]) -> np.ndarray:
    """Where each frame of a forward view starts in its span, as a
    fraction of it.

    Frame ``t`` is on screen from ``frame_times[t]`` to the next frame's
    time (the last one to ``span[1]``). A picture returned for several
    consecutive indices (a long frame of a VFR file) shares its time on
    screen evenly among them, so no frame gets an empty share.

    Args:
        frame_times: float ``(T,)`` presentation times (s), ascending.
        span: ``(t0, t1)``: the view's span (s), ``t0 = frame_times[0]``.

    Returns:
        float64 ``(T + 1,)``: ascending fractions, ``0`` first, ``1`` last.
    """
    e = np.append(np.asarray(frame_times, np.float64).reshape(-1),
                  float(span[1]))
    k, n = 0, len(e) - 1
    while k < n:
        j = k + 1
        while j < n and e[j] <= e[k] + 1e-9:
            j += 1
        if j > k + 1:  # indices k .. j - 1 show one picture
            e[k:j] = np.linspace(e[k], e[j], j - k, endpoint=False)
        k = j
    t0, t1 = float(span[0]), float(span[1])
    return (e - t0) / max(t1 - t0, 1e-12)


def _span_of(results: Dict, ref) -> Tuple[float, float]:
    modality, index = ref
    views = results['video_views' if modality == 'video' else 'audio_views']
    return tuple(views[int(index)]['time_span'])


def resolve_spans(results: Dict) -> Dict:
    """Settle every view's span from decoded frames and relabel (see the
    module doc). Idempotent; audio views already decoded (``num_samples``
    set) keep the span they were decoded with.

    Required keys: ``video_views``; optional ``audio_views``,
    ``span_relations``, ``pretext_labels``.

    Modified keys: ``video_views[i]['time_span']`` (the sampler's span stays
    as ``nominal_time_span``), ``audio_views[j]['time_span']`` (and
    ``frame_edges``, see the module doc),
    ``pretext_labels`` named in ``span_relations``.
    """
    videos = results.get('video_views') or []
    for view in videos:
        if 'frame_times' not in view or not view.get('frame_period'):
            continue
        span = view_time_span(view['frame_times'], view['frame_period'],
                              bool(view.get('reversed', False)))
        if span is not None:
            view.setdefault('nominal_time_span', tuple(view['time_span']))
            view['time_span'] = span
    for audio in results.get('audio_views') or []:
        j = int(audio.get('video_view', -1))
        if j < 0 or j >= len(videos) or 'num_samples' in audio:
            continue
        video = videos[j]
        t0, t1 = (float(t) for t in video['time_span'])
        # an audio speed drawn apart from the clip's covers that many
        # source seconds from the clip's start
        ratio = float(audio.get('speed', 1)) / float(video.get('speed', 1))
        audio['time_span'] = (t0, t0 + (t1 - t0) * ratio)
        audio.pop('frame_edges', None)
        backwards = bool(video.get('reversed', False))
        if ratio == 1 and 'nominal_time_span' in video and \
                backwards == bool(audio.get('reversed', False)):
            times = np.asarray(video['frame_times'], np.float64)
            if backwards:  # fractions of the reversed playback
                edges = 1.0 - frame_edges(times[::-1], (t0, t1))[::-1]
            else:
                edges = frame_edges(times, (t0, t1))
            audio['frame_edges'] = edges
    relations = results.get('span_relations') or {}
    if relations:
        labels = dict(results.get('pretext_labels') or {})
        for name, (a, b) in relations.items():
            if labels.get(name) == ORDER_IGNORE:
                continue
            labels[name] = temporal_relation(_span_of(results, a),
                                             _span_of(results, b))
        results['pretext_labels'] = labels
    return results
