"""Exception types of the data pipeline.

A skip policy (``AVVideoDataset(bad_sample_policy='skip')``, see
docs/reliability.md) catches :class:`MediaDecodeError` to tell a bad file
from a bug in a transform; :class:`AnnotationError` is raised while an
annotation list is parsed and is never skipped.
"""
import re
from collections import Counter
from typing import List, Optional, Sequence, Tuple

__all__ = [
    'MediaDecodeError', 'MissingAudioError', 'AnnotationError',
    'TooManyBadSamplesError', 'PipelineConfigError', 'HWAccelError',
    'WorkerCrashError'
]

_MESSAGE = re.compile(r"cannot decode (\w+) of '(.*?)': (.*)", re.S)


class MediaDecodeError(RuntimeError):
    """A media file could not be opened or decoded.

    Args:
        filename: The file that failed.
        reason: What went wrong, in words.
        stream: ``'video'`` or ``'audio'``.

    ``MediaDecodeError(message)`` with a single argument is the form in
    which torch's DataLoader re-raises a worker's exception in the main
    process (the worker's formatted traceback as the message). The error
    then keeps its type, and the file, stream and reason are read back
    from the message.
    """

    def __init__(self,
                 filename: str,
                 reason: Optional[str] = None,
                 stream: str = 'video'):
        if reason is None:
            # re-raised from a worker: ``filename`` is the whole message
            message = str(filename)
            found = _MESSAGE.search(message)
            if found:
                stream, filename, reason = found.groups()
                reason = reason.strip().splitlines()[0]
            else:
                filename, reason = None, message
            self.filename, self.reason, self.stream = filename, reason, stream
            self._message_only = True
            RuntimeError.__init__(self, message)
            return
        # a plain str: a FetchedFile would carry its bytes into pickles
        self.filename = filename = str(filename)
        self.reason = reason
        self.stream = stream
        self._message_only = False
        super().__init__(f'cannot decode {stream} of {filename!r}: {reason}')

    def __reduce__(self):
        # keep the three fields when the error crosses a worker process
        if self._message_only:
            return type(self), (self.args[0], )
        return type(self), (self.filename, self.reason, self.stream)


class MissingAudioError(MediaDecodeError):
    """A sample has no audio: no audio stream, a missing sidecar file, or
    ``audio_source='none'``. ``DecodeAudioViews(on_missing_audio='silence')``
    turns exactly this error into recorded silence."""

    def __init__(self,
                 filename: str,
                 reason: Optional[str] = None,
                 stream: str = 'audio'):
        super().__init__(filename, reason, stream)


class AnnotationError(ValueError):
    """One or more lines of an annotation file are malformed.

    Args:
        ann_file: The annotation file.
        problems: ``(line_number, message)`` pairs, 1-based line numbers
            (for JSON: the 1-based index of the record; 0: the whole file).
    """

    max_shown = 10

    def __init__(self, ann_file: str,
                 problems: Optional[Sequence[Tuple[int, str]]] = None):
        if problems is None:  # re-raised from a worker: a message only
            self.ann_file, self.problems = None, []
            ValueError.__init__(self, ann_file)
            return
        self.ann_file = ann_file
        self.problems: List[Tuple[int, str]] = list(problems)
        shown = '\n'.join(f'  {ann_file}:{line}: {msg}'
                          for line, msg in self.problems[:self.max_shown])
        more = len(self.problems) - self.max_shown
        tail = f'\n  ... and {more} more' if more > 0 else ''
        super().__init__(f'{len(self.problems)} bad annotation line(s) in '
                         f'{ann_file}:\n{shown}{tail}')

    def __reduce__(self):
        if self.ann_file is None:
            return type(self), (self.args[0], )
        return type(self), (self.ann_file, self.problems)


class TooManyBadSamplesError(RuntimeError):
    """More bad media than ``max_bad_ratio`` allows (or a redraw found no
    good sample): the run stops with a report of which files failed and
    why.

    The message lists each distinct ``(file, reason)`` once, in the order
    first met, with the number of draws that hit it when more than one: a
    redraw over a small or mostly bad list meets the same files again and
    again (mmengine's ``max_refetch`` default is 1000 draws), and a list of
    repeats would hide the other files.

    Args:
        message: Head line (counts, ratio, limit).
        bad: ``(filename, reason)`` pairs, in the order they were met
            (repeats included).
    """

    max_shown = 20

    def __init__(self, message: str,
                 bad: Optional[Sequence[Tuple[str, str]]] = None):
        self.head = message
        self.bad: List[Tuple[str, str]] = list(bad or [])
        distinct = list(Counter(self.bad).items())  # first-met order
        lines = [message]
        lines += [f'  {f}: {r}' + (f' ({n} draws)' if n > 1 else '')
                  for (f, r), n in distinct[:self.max_shown]]
        if len(distinct) > self.max_shown:
            lines.append(f'  ... and {len(distinct) - self.max_shown} '
                         'more file(s)')
        if self.bad:
            lines.append('Run tools/data/check_dataset.py on the annotation '
                         'file to write a cleaned list.')
        super().__init__('\n'.join(lines))

    def __reduce__(self):
        return type(self), (self.head, self.bad)


class PipelineConfigError(ValueError):
    """A transform config names an unknown type or argument. The message is
    one line naming the pipeline position, the transform, the key and the
    closest valid names."""


class HWAccelError(RuntimeError):
    """The hardware decoder a config asks for cannot be used in this process
    (no device, no driver library, or a worker forked after CUDA started).
    Not a bad file: every sample would fail alike, so no skip policy catches
    it."""


class WorkerCrashError(RuntimeError):
    """A DataLoader worker process died without a Python exception (a
    native crash in a decoder, the OOM killer) and the file it was reading
    is known (see ``mmavcl.datasets.video_dataset.naming_worker_files``).

    Args:
        message: torch's message followed by what each dead worker was
            reading.
        files: ``(pid, filename)`` per dead worker; ``filename`` is
            ``None`` for a worker that was between samples.
    """

    def __init__(self, message: str,
                 files: Optional[Sequence[Tuple[int, Optional[str]]]] = None):
        self.files: List[Tuple[int, Optional[str]]] = list(files or [])
        #: the first file a dead worker was reading (``None``: none was)
        self.filename = next((f for _, f in self.files if f), None)
        super().__init__(message)

    def __reduce__(self):
        return type(self), (self.args[0], self.files)
