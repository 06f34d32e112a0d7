"""Forked children (DataLoader workers) must not collect the parent's
garbage.

A PyAV container whose decoder ran with frame threads (``thread_type=
'AUTO'``, what :class:`~.video.PyAVVideoReader` sets) owns FFmpeg threads
that ``os.fork`` does not copy. If the container is garbage in a reference
cycle when the process forks (a reader kept by a traceback under
``bad_sample_policy='skip'``, a ``num_workers=0`` val loader, a tool that
probed files first), the child's first collection frees it, and
``avcodec_free_context`` waits for those threads for ever: the worker hangs
with no error (``pthread_cond_destroy`` under ``gc`` in gdb), and with
non-persistent workers any epoch's fork can do it. Closing every container
on every path would not be enough, since any cycle holding a reader (an
exception's frames) has the same effect.

``gc.freeze()`` just before the fork moves everything the parent tracks into
the permanent generation, which a collection never visits; the child keeps
it frozen (a worker never needed the parent's garbage freed, and untouched
objects also keep copy-on-write pages shared; Python's ``gc`` docs recommend
it for pre-fork servers). The parent unfreezes at once, so its own garbage
is collected as before. Objects that become garbage in the child after the
fork are collected normally.
"""
import gc
import os

_registered = False


def freeze_gc_across_forks() -> None:
    """Register the ``gc.freeze`` / ``gc.unfreeze`` fork hooks once per
    process (``os.register_at_fork`` cannot unregister, so a second call
    must not stack another pair)."""
    global _registered
    if _registered:
        return
    os.register_at_fork(before=gc.freeze, after_in_parent=gc.unfreeze)
    _registered = True
