"""Work-arounds for known breakage in pinned dependencies.

The two ``patch_*`` functions run when mmavcl is imported; the list of
everything that import changes, with upstream issues and tests, is in the
docstring of ``mmavcl/__init__.py``.
"""
import importlib
import importlib.metadata
import importlib.util
import os.path as osp
import sys
import types


def patch_mmaction_wheel() -> bool:
    """Make ``import mmaction.models`` work with the broken 1.2.0 wheel.

    The PyPI wheel of mmaction2 1.2.0 drops ``models/localizers/drn`` (it has
    no ``__init__.py``, open-mmlab/mmaction2#2714; the fix, PR #2721, is
    unmerged) and ``mmaction/utils/dependency.py`` imports the undeclared
    ``importlib_metadata``. Without this, building anything under
    ``default_scope='mmaction'`` (or an ``mmaction.`` type from an mmavcl
    config) fails inside mmengine's registry, which imports
    ``mmaction.models`` itself; hence at mmavcl's import time. Each
    stand-in is added only when the real one is missing. Returns whether
    mmaction is installed. Never imports ``mmaction.models`` itself.
    """
    try:
        spec = importlib.util.find_spec('mmaction')
    except (ImportError, ValueError):
        return False
    if spec is None or spec.origin is None:
        return False
    drn_dir = osp.join(osp.dirname(spec.origin), 'models', 'localizers', 'drn')
    if not osp.isdir(drn_dir) and \
            'mmaction.models.localizers.drn' not in sys.modules:
        pkg = types.ModuleType('mmaction.models.localizers.drn')
        pkg.__path__ = []
        mod = types.ModuleType('mmaction.models.localizers.drn.drn')
        mod.DRN = None
        pkg.drn = mod
        sys.modules[pkg.__name__] = pkg
        sys.modules[mod.__name__] = mod
    try:
        import importlib_metadata  # noqa: F401
    except ImportError:
        sys.modules['importlib_metadata'] = importlib.metadata
    return True


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency or fail with a line that names the fix."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f'{purpose} needs `{module}`, which is not installed: run '
            f'`pip install -e .[{extra}]` (or `pip install {module}`).'
        ) from err


def patch_mmengine_package_lookup() -> None:
    """Resolve ``mmavcl::`` config paths under an editable install.

    mmengine looks for a package's files at ``<distribution location>/<name>``.
    A PEP 660 editable install (``pip install -e .``) leaves only the
    ``.dist-info`` in site-packages and imports the code from the checkout, so
    that path does not exist and every ``_base_ = 'mmavcl::...'`` fails with
    ``FileNotFoundError: .../site-packages/mmavcl/.mim/model-index.yml``. This
    falls back to where Python actually imports the package from; installs
    whose path exists are untouched. mmengine 0.10.7 (and its main branch
    after open-mmlab/mmengine#1676 moved the lookup to ``importlib``) still
    joins the distribution's location with the package name; no upstream
    issue was found. Idempotent.
    """
    import mmengine.config.config as config_module

    lookup = config_module.get_installed_path
    if getattr(lookup, 'falls_back_to_import_path', False):
        return

    def get_installed_path(package: str) -> str:
        path = lookup(package)
        if osp.isdir(path):
            return path
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin is not None:
            return osp.dirname(spec.origin)
        return path

    get_installed_path.falls_back_to_import_path = True
    config_module.get_installed_path = get_installed_path
