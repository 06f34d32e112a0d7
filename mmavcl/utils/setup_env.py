import importlib


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every module that registers something, for scripts that prefer
    explicit registration over the registries' lazy ``locations``."""
    for name in ('mmavcl.datasets', 'mmavcl.engine', 'mmavcl.evaluation',
                 'mmavcl.models', 'mmavcl.structures',
                 'mmavcl.visualization'):
        importlib.import_module(name)
    if init_default_scope:
        from mmengine.registry import DefaultScope
        if DefaultScope.get_current_instance() is None or \
                DefaultScope.get_current_instance().scope_name != 'mmavcl':
            DefaultScope.get_instance(
                f'mmavcl-{len(DefaultScope._instance_dict)}',
                scope_name='mmavcl')
