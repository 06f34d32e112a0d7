"""mmavcl: self-supervised audio-visual and video representation learning.

Importing mmavcl changes six things outside it, each needed with the pinned
mmengine 0.10.7 / mmaction2 1.2.0 and nothing else (the engine itself is
named in configs, see ``mmavcl/engine/runner.py``). Each is listed with its
upstream issue and the test that fails without it:

1. mmengine's local-file checkpoint loader becomes
   :func:`mmavcl.utils.checkpoint.safe_torch_load` (weights-only first;
   full unpickling only for trusted files). mmengine's ``load_from_local``
   calls ``torch.load`` with torch's default, which since torch 2.6 refuses
   mmengine's own checkpoints (open-mmlab/mmengine#1655); the usual
   work-around, ``weights_only=False``, would run any pickle.
   Everything that loads through mmengine (``load_from``, ``init_cfg``
   ``Pretrained``, resume, tools) needs the policy, hence import time.
   The loaders of ``s3://`` (mmengine's is Petrel's), ``gs://`` (none) and
   ``http(s)://`` (mmengine's fully unpickles through ``torch.hub`` and
   caches by file name, so one run could resume another's ``iter_4.pth``)
   become :func:`mmavcl.utils.checkpoint.load_from_uri`: the same policy
   on bytes read through the fileio backends of 5.
   Tests: ``tests/utils/test_checkpoint_policy.py``,
   ``tests/engine/test_remote_checkpoints.py``.
2. ``MODULE2PACKAGE['mmavcl']``: mmengine only resolves ``pkg::path`` config
   bases for the packages in this fixed table
   (open-mmlab/mmengine#1410; PR #1411 closed unmerged). Test:
   ``tests/utils/test_config_prefix.py::``
   ``test_external_config_inherits_mmavcl_bases``.
3. ``mmengine.config.config.get_installed_path`` falls back to the import
   path when the distribution's path does not exist: under a PEP 660
   editable install (``pip install -e .``, setuptools >= 64, how ``make``
   installs) mmengine looks in site-packages. No mmengine issue found;
   still so on mmengine main after open-mmlab/mmengine#1676.
   Test: ``tests/utils/test_config_prefix.py`` (both tests).
4. mmaction2 1.2.0's wheel lacks ``models/localizers/drn``
   (open-mmlab/mmaction2#2714; PR #2721 unmerged) and imports the
   undeclared ``importlib_metadata`` (no upstream issue found). With
   mmaction2 installed, two stub ``sys.modules`` entries stand in for the
   missing package (only if it is missing) and ``importlib_metadata``
   aliases ``importlib.metadata`` (only if it is not installed), so that
   configs may mix ``mmaction.`` and mmavcl types. Tests:
   ``tests/test_registry.py::test_mmavcl_scope_builds_mmaction_types``,
   ``::test_mmaction_scope_builds_mmavcl_types``.

5. mmengine fileio's backends for ``s3``/``gs`` (mmengine's own ``s3``
   entry is Petrel's, which needs petrel_client and its config; ``backend=
   'petrel'`` by name still reaches it) and ``http``/``https`` (mmengine's
   ``HTTPBackend`` has no timeout, so a stalled server hangs a worker) are
   mmavcl's, registered when ``mmavcl.datasets.media.remote`` is imported:
   ``ObjectStoreBackend`` (obstore; ``AWS_*`` variables or ``backend_args``)
   and ``TimeoutHTTPBackend``. ``ObjectStoreBackend`` also enters the
   deprecated ``FileClient``'s tables, which mmengine's ``CheckpointHook``
   and ``LoggerHook`` still consult for an ``out_dir`` in a bucket; the
   prefix table is written directly because mmengine 0.10.7's
   ``FileClient.register_backend(force=True)`` never stores the backend for
   a prefix it overrides (no upstream issue found). Tests:
   ``tests/datasets/test_remote_files.py``,
   ``tests/engine/test_object_store_checkpoints.py``.
6. The process's fork hooks (not mmengine's state): ``gc.freeze`` before
   every ``os.fork`` and ``gc.unfreeze`` after it in the parent, registered
   when ``mmavcl.datasets.media`` is imported (``forksafe.py``), so that a
   forked DataLoader worker never frees a PyAV container the parent left as
   cyclic garbage, which hangs it. No PyAV issue for this hang found;
   imageio/imageio#1095 reports the same pattern (a child freeing its
   parent's PyAV objects). Tests: ``tests/datasets/test_fork_safety.py``.

``tests/utils/test_import_time_patches.py`` checks that importing mmavcl
changes these and no other mmengine state.
"""
from mmengine.config.utils import MODULE2PACKAGE

from .utils.checkpoint import register_checkpoint_policy
from .utils.compat import patch_mmaction_wheel, patch_mmengine_package_lookup
from .version import __version__, version_info

register_checkpoint_policy()  # 1.
MODULE2PACKAGE.setdefault('mmavcl', 'mmavcl')  # 2.
patch_mmengine_package_lookup()  # 3.
patch_mmaction_wheel()  # 4. (cheap: never imports mmaction itself)

__all__ = ['__version__', 'version_info']
