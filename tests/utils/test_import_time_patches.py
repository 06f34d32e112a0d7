"""Importing mmavcl changes exactly the mmengine/mmaction state listed in
``mmavcl/__init__.py`` (each entry there has its own functional test)."""
import json
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# Runs in a fresh interpreter: snapshot mmengine, import mmavcl (and its
# engine), report every difference.
_PROBE = r'''
import json, sys, types
import mmengine, mmengine.config.config, mmengine.config.utils
import mmengine.runner.checkpoint
from mmengine.runner.checkpoint import CheckpointLoader


def attrs():
    """id of every non-module attribute of every loaded mmengine module and
    of every class defined there (a replaced function or method shows)."""
    out = {}
    for name, mod in list(sys.modules.items()):
        if mod is None or name.split('.')[0] != 'mmengine':
            continue
        for key, value in list(vars(mod).items()):
            if isinstance(value, types.ModuleType):
                continue  # a submodule imported later is no patch
            out[f'{name}.{key}'] = id(value)
            if isinstance(value, type) and \
                    value.__module__.split('.')[0] == 'mmengine':
                for attr, member in list(vars(value).items()):
                    out[f'{name}.{key}.{attr}'] = id(member)
    return out


before = attrs()
modules = set(sys.modules)
schemes = dict(CheckpointLoader._schemes)
table = dict(mmengine.config.utils.MODULE2PACKAGE)
from mmengine.fileio.backends import registry_utils  # noqa: E402
file_backends = dict(registry_utils.backends)
file_prefixes = dict(registry_utils.prefix_to_backends)
from mmengine.fileio import FileClient  # noqa: E402
client_backends = dict(FileClient._backends)
client_prefixes = dict(FileClient._prefix_to_backends)

import mmavcl  # noqa: E402
import mmavcl.datasets  # noqa: E402,F401
import mmavcl.engine  # noqa: E402,F401

after = attrs()
lookup = mmengine.config.config.get_installed_path
report = dict(
    replaced=sorted(k for k in before if after.get(k) != before[k]),
    schemes=sorted(k for k in set(schemes) | set(CheckpointLoader._schemes)
                   if schemes.get(k) is not CheckpointLoader._schemes.get(k)),
    scheme_loaders={
        k: v.__module__ + '.' + v.__name__
        for k, v in CheckpointLoader._schemes.items()
        if schemes.get(k) is not v},
    table={k: v for k, v in mmengine.config.utils.MODULE2PACKAGE.items()
           if table.get(k) != v},
    lookup_falls_back=getattr(lookup, 'falls_back_to_import_path', False),
    # entries that are not the module their name says: stubs, aliases
    stand_ins=sorted(
        n for n in set(sys.modules) - modules
        if getattr(sys.modules[n], '__spec__', None) is None
        or sys.modules[n].__name__ != n),
    mmaction_has_drn=None,
    file_backends=sorted(
        k for k in set(file_backends) | set(registry_utils.backends)
        if file_backends.get(k) is not registry_utils.backends.get(k)),
    file_prefixes={
        k: v.__module__ + '.' + v.__name__
        for k, v in registry_utils.prefix_to_backends.items()
        if file_prefixes.get(k) is not v},
    # mmengine's deprecated FileClient, still consulted by its
    # CheckpointHook and LoggerHook
    client_backends={
        k: v.__module__ + '.' + v.__name__
        for k, v in FileClient._backends.items()
        if client_backends.get(k) is not v},
    client_prefixes={
        k: v.__module__ + '.' + v.__name__
        for k, v in FileClient._prefix_to_backends.items()
        if client_prefixes.get(k) is not v},
)
try:
    import importlib.util, os.path as osp
    spec = importlib.util.find_spec('mmaction')
    if spec is not None:
        report['mmaction_has_drn'] = osp.isdir(osp.join(
            osp.dirname(spec.origin), 'models', 'localizers', 'drn'))
except ImportError:
    pass
try:
    import importlib_metadata  # noqa: F401
    report['importlib_metadata_real'] = \
        importlib_metadata.__name__ == 'importlib_metadata'
except ImportError:
    report['importlib_metadata_real'] = None
print(json.dumps(report))
'''


def test_import_changes_only_the_documented_state():
    out = subprocess.run([sys.executable, '-c', _PROBE], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    # 1. the local-file checkpoint loader and those of the object-store and
    # HTTP schemes, nothing else of the loader table
    assert report['schemes'] == sorted(
        ['', r'(\S+\:)?s3://', 'gs://', 'http://', 'https://'])
    policy = 'mmavcl.utils.checkpoint.'
    assert report['scheme_loaders'] == {
        '': policy + 'safe_torch_load',
        r'(\S+\:)?s3://': policy + 'load_from_uri',
        'gs://': policy + 'load_from_uri',
        'http://': policy + 'load_from_uri',
        'https://': policy + 'load_from_uri'}
    # 2. one entry in mmengine's package table
    assert report['table'] == {'mmavcl': 'mmavcl'}
    # 3. the one replaced mmengine function: the install-path lookup
    # (register_scheme rebuilds the scheme table checked in 1.)
    assert [k for k in report['replaced']
            if not k.endswith('.CheckpointLoader._schemes')] == [
                'mmengine.config.config.get_installed_path']
    assert report['lookup_falls_back'] is True
    # 4. stand-ins only for what the mmaction2 wheel lacks
    expected = []
    if report['mmaction_has_drn'] is False:
        expected += ['mmaction.models.localizers.drn',
                     'mmaction.models.localizers.drn.drn']
    if report['mmaction_has_drn'] is not None and \
            report['importlib_metadata_real'] is False:
        expected += ['importlib_metadata']
    assert report['stand_ins'] == sorted(expected)
    # 5. mmengine fileio: the object-store backend for s3/gs, the HTTP
    # backend with a timeout for http/https
    assert report['file_backends'] == ['http', 'object_store']
    remote = 'mmavcl.datasets.media.remote.'
    assert report['file_prefixes'] == {
        's3': remote + 'ObjectStoreBackend', 'gs': remote + 'ObjectStoreBackend',
        'http': remote + 'TimeoutHTTPBackend',
        'https': remote + 'TimeoutHTTPBackend'}
    # ... and the object-store backend in the deprecated FileClient's tables
    assert report['client_backends'] == {
        'object_store': remote + 'ObjectStoreBackend'}
    assert report['client_prefixes'] == {
        's3': remote + 'ObjectStoreBackend', 'gs': remote + 'ObjectStoreBackend'}
