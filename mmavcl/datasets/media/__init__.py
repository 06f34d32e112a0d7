"""Media I/O of the data pipeline: reading video frames and audio samples
from files, and writing them. The transforms in
:mod:`mmavcl.datasets.transforms` (``VideoInit``, ``DecodeVideoViews``,
``AudioInit``, ``DecodeAudioViews``) call these; nothing here knows about
views, samples or results dicts.

One concern per module:

* :mod:`.video`: frame-accurate readers (decord, PyAV), one interface,
  and the video file extensions the tools and shards take;
* :mod:`.hwaccel`: PyAV's hardware (NVDEC) decoder device per process;
* :mod:`.probe`: header facts without decoding frames (cheap opens, sizes,
  start times, audio duration);
* :mod:`.orientation`: the display rotation and mirror a header asks for;
* :mod:`.mpeg4`: MPEG-4 Part 2 headers (not-coded VOPs);
* :mod:`.decord_checks`: which files decord returns wrong frames for (the
  decord reader hands them to PyAV);
* :mod:`.audio`: decoding audio spans to mono at the stream's rate;
* :mod:`.wav`: PCM WAV spans with the standard library;
* :mod:`.sidecar`: where a sidecar's first sample sits on its video's
  clock (the record ``tools/data/extract_audio.py`` writes);
* :mod:`.resampling`: band-limited resampling and sped-up playback;
* :mod:`.writer`: encoding frames and waveforms into files (tools, tests);
* :mod:`.forksafe`: the fork hooks registered on import, so that a forked
  DataLoader worker never frees a PyAV container the parent left as garbage
  (that hangs it).

Every failure to read raises :class:`~mmavcl.datasets.MediaDecodeError`
naming the file.
"""
from .audio import decode_audio_spans, read_audio_span, read_audio_spans
from .forksafe import freeze_gc_across_forks
from .hwaccel import hw_accel
from .orientation import display_orientation, display_rotation
from .probe import (audio_stream_timing, open_media, probe_audio_duration,
                    probe_audio_stream, probe_audio_timing, probe_frame_size,
                    probe_media, stated_audio_end, video_start_time,
                    file_start_time)
from .resampling import (COMMON_SAMPLE_RATES, play_at_speed, resample,
                         sinc_resample_kernel, time_compress)
from .threads import shared_decoder_threads
from .video import (VIDEO_EXTS, BaseVideoReader, DecordVideoReader,
                    PyAVVideoReader, build_video_reader,
                    decode_with_fallback, decord_available,
                    resolve_video_backend)
from .sidecar import (SIDECAR_EXTS, audio_start_metadata, find_audio_start,
                      read_audio_start)
from .wav import open_pcm_wav, read_wav_spans, wav_duration
from .writer import write_audio, write_video

# before any container exists: see forksafe's docstring
freeze_gc_across_forks()

__all__ = [
    'VIDEO_EXTS', 'BaseVideoReader', 'DecordVideoReader', 'PyAVVideoReader',
    'build_video_reader', 'decode_with_fallback', 'decord_available',
    'resolve_video_backend', 'shared_decoder_threads', 'hw_accel',
    'open_media',
    'probe_media', 'probe_frame_size', 'probe_audio_duration',
    'probe_audio_timing', 'probe_audio_stream', 'audio_stream_timing',
    'stated_audio_end',
    'video_start_time', 'file_start_time',
    'display_rotation', 'display_orientation',
    'read_audio_span', 'read_audio_spans', 'decode_audio_spans',
    'open_pcm_wav', 'read_wav_spans', 'audio_start_metadata',
    'find_audio_start', 'read_audio_start', 'SIDECAR_EXTS', 'wav_duration',
    'COMMON_SAMPLE_RATES',
    'resample', 'sinc_resample_kernel', 'time_compress', 'play_at_speed',
    'write_video', 'write_audio'
]
