"""The repository's scripts (``tools/``, ``benchmarks/``) as modules, and the
toy dataset they and the docs train on, for tests that call them in-process."""
import glob
import importlib.util
import json
import os.path as osp
from types import ModuleType

#: the checkout this package was imported from (tests run from a checkout)
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_script(path: str) -> ModuleType:
    """Import a script by file path (absolute, or relative to the checkout:
    ``'tools/data/make_toy_dataset.py'``) without putting its folder on
    ``sys.path``; each call gives a fresh module."""
    path = path if osp.isabs(path) else osp.join(REPO_ROOT, path)
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def last_logged_metrics(work_dir: str) -> dict:
    """The metrics of the newest ``tools/test.py`` run in ``work_dir``: the
    last line of ``<work_dir>/<timestamp>/<timestamp>.json``."""
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    if not files:
        raise FileNotFoundError(f'no <timestamp>/<timestamp>.json log in '
                                f'{work_dir}')
    with open(files[-1]) as f:
        return json.loads(f.read().strip().split('\n')[-1])


def make_toy_data(root: str, **kwargs) -> str:
    """Write the toy audio-visual dataset to ``root/data/toy_av``, where the
    toy configs read it when run from ``root``; returns ``root``.
    ``kwargs`` override the small defaults (2 videos a class, 2 s, 1 worker)
    passed to ``tools/data/make_toy_dataset.py``."""
    options = dict(num_per_class=2, duration=2.0, workers=1)
    options.update(kwargs)
    load_script('tools/data/make_toy_dataset.py').make_toy_dataset(
        osp.join(str(root), 'data', 'toy_av'), **options)
    return str(root)
