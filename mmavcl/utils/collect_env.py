"""Versions of everything that decides whether a run is reproducible."""
import importlib
from collections import OrderedDict

from mmengine.utils.dl_utils import collect_env as collect_base_env

_OPTIONAL = ('mmcv', 'decord', 'av', 'torchaudio', 'kornia', 'mmaction')


def collect_env() -> 'OrderedDict[str, str]':
    """mmengine's environment report plus the media/audio/aug libraries."""
    import mmavcl
    env = collect_base_env()
    for name in _OPTIONAL:
        try:
            env[name] = getattr(importlib.import_module(name), '__version__',
                                'unknown')
        except Exception as err:  # any import failure is worth reporting
            env[name] = f'not available ({type(err).__name__})'
    env['mmavcl'] = mmavcl.__version__
    return env


if __name__ == '__main__':
    for key, value in collect_env().items():
        print(f'{key}: {value}')
