"""Hardware video decoding through PyAV's ``hwaccel`` (NVDEC on CUDA):
one device per process and rank, opened once and kept alive."""
import os
from typing import Optional

from ..errors import HWAccelError
from .reason import short_reason

__all__ = ['hw_accel']


#: (pid, device type, device) -> (template, one live device context); the
#: pid because a forked child inherits the dict but not a usable device
_HW_ACCELS: dict = {}


def hw_accel(device_type: str, device: Optional[str] = None):
    """The ``av.codec.hwaccel.HWAccel`` that makes PyAV decode video on
    ``device_type`` (``'cuda'``: NVDEC), created once per process.

    The frames still come back in host memory (NV12, copied from the
    device), so the rest of the pipeline is unchanged; what moves to the
    GPU is the decoding itself. PyAV gives each file it opens an FFmpeg
    device of its own (``HWAccel.create``); with ``primary_ctx`` they all
    sit on the GPU's one primary CUDA context, which the device kept alive
    here holds open between files. A stream the hardware cannot decode (a
    codec or profile NVDEC lacks) decodes in software, as FFmpeg's
    ``hwaccel`` does. Measured on an H200 (docs/benchmarks.md, "On a
    GPU"), 8 NVDEC workers were 7.7x slower than 8 CPU-decoding ones.

    Args:
        device_type: An FFmpeg device type (``'cuda'``).
        device: Device index; default ``LOCAL_RANK`` (the GPU of this
            process's rank under ``torchrun``) modulo the number of
            ``CUDA_VISIBLE_DEVICES`` (one GPU per task under SLURM, as
            mmengine's ``init_dist`` does), else FFmpeg's default (device 0).

    Raises:
        HWAccelError: the device cannot be opened here.
    """
    if device is None:
        device = _rank_device()
    key = (os.getpid(), device_type, device)
    if key not in _HW_ACCELS:
        import av
        from av.codec.hwaccel import HWAccel, hwdevices_available
        if device_type not in hwdevices_available():
            raise HWAccelError(
                f'hwaccel={device_type!r}: this FFmpeg build (PyAV '
                f'{av.__version__}) has no such device type; it has '
                f'{hwdevices_available()}')
        options = {'primary_ctx': '1'} if device_type == 'cuda' else {}
        template = HWAccel(device_type, device=device,
                           allow_software_fallback=True, options=options)
        try:
            live = template.create(av.codec.Codec('h264', 'r'))
        except Exception as err:
            hint = ''
            if device_type == 'cuda':
                hint = ('; NVDEC needs an NVIDIA GPU visible to this process '
                        'and the driver\'s libcuda and libnvcuvid')
                if _forked_after_cuda() or any(
                        k[0] != key[0] for k in _HW_ACCELS):
                    hint = ('; this is a DataLoader worker forked after CUDA '
                            'started in its parent: set '
                            "multiprocessing_context='spawn' in the "
                            'dataloader config')
            raise HWAccelError(
                f'hwaccel={device_type!r} (device {device or 0}): FFmpeg '
                f'could not open the device: {short_reason(err)}{hint}'
            ) from err
        _HW_ACCELS[key] = (template, live)
    return _HW_ACCELS[key][0]


def _rank_device() -> Optional[str]:
    rank = os.environ.get('LOCAL_RANK')
    visible = [d for d in os.environ.get('CUDA_VISIBLE_DEVICES', '').split(
        ',') if d.strip()]
    if rank is None or not visible:
        return rank
    return str(int(rank) % len(visible))


def _forked_after_cuda() -> bool:
    """torch started CUDA in the process this one was forked from."""
    try:
        import torch
        return bool(torch.cuda._is_in_bad_fork())
    except Exception:
        return False
