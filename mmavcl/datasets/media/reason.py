"""The one-line reason a :class:`~mmavcl.datasets.MediaDecodeError` gives
for an exception of a decoding library (PyAV, decord), shared by every
module of :mod:`mmavcl.datasets.media` so all of them word it alike."""

__all__ = ['short_reason']


def short_reason(err: BaseException, limit: int = 300) -> str:
    """``'<ExceptionType>: <first line of its message>'``, the line cut to
    ``limit`` characters: FFmpeg's messages can run over many lines, and
    the reason ends up in logs once per bad sample."""
    msg = str(err).strip().splitlines()
    text = msg[0] if msg else type(err).__name__
    return f'{type(err).__name__}: {text[:limit]}'
