"""mmavcl's registries: children of mmengine's root registries, scope
``mmavcl``.

Each registry names the package that holds its members in ``locations`` so that
building ``type='X'`` under ``default_scope='mmavcl'`` (or ``type='mmavcl.X'``
from another scope) imports the right module without manual imports.

An unknown ``type`` is explained here, once for every registry: mmengine says
``ResNet3D is not in the mmavcl::model registry``;
:func:`explain_unknown_types` turns that into :class:`UnknownTypeError` naming
the config key path (``model.backbone``) and the close registered names
(``did you mean 'ResNet3d'?``). Our registries' ``build`` applies it to the
config being built, and ``AVRunner`` to the whole config around everything it
builds (mmengine's ``Runner`` builds through mmengine's root registries, which
only *look up* names in ours, so the runner is where the full key path is
known). Nothing in mmengine is patched.
"""
import contextlib
import difflib
import re
from typing import Any, Iterator, List, Optional, Sequence

from mmengine.config import Config
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import \
    RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import DefaultScope, Registry

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'TASK_UTILS', 'METRICS',
    'EVALUATOR', 'VISUALIZERS', 'VISBACKENDS', 'FUNCTIONS', 'INFERENCERS'
]

# the two wordings of mmengine 0.10's build functions
_MMENGINE_UNKNOWN = re.compile(
    r'^(?P<type>.+?) is not in the (?:(?P<scope>[\w.-]+)::)?(?P<name>.+?) '
    r'registry\.')


class UnknownTypeError(KeyError):
    """A config names a ``type`` that its registry does not hold.

    A ``KeyError`` like mmengine's own, so existing ``except KeyError`` code
    keeps working; its text is the explanation itself (no quotes).

    Args:
        type_name: The ``type`` value as written in the config.
        registry: The registry searched, as ``scope::name``.
        suggestions: Close registered names, best first.
        paths: Config key paths whose ``type`` is ``type_name``.
    """

    def __init__(self, type_name: str, registry: str,
                 suggestions: Sequence[str] = (),
                 paths: Sequence[str] = ()) -> None:
        self.type_name = type_name
        self.registry = registry
        self.suggestions = list(suggestions)
        self.paths = list(paths)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = f'{", ".join(self.paths)}: ' if self.paths else ''
        text = (f'{where}unknown type {self.type_name!r} (not in the '
                f'{self.registry} registry)')
        if self.suggestions:
            return text + '; did you mean ' + ' or '.join(
                map(repr, self.suggestions)) + '?'
        return text + ('; no registered name is close. If the class lives '
                       'in your own module, list that module in '
                       '`custom_imports`.')

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        return (type(self), (self.type_name, self.registry,
                             self.suggestions, self.paths))


def suggest_types(type_name: str, registry: Registry, n: int = 3
                  ) -> List[str]:
    """Registered names close to ``type_name``, best first.

    Looks where an unscoped ``type`` is looked up: ``registry`` and its
    ancestors. A name differing only in case comes first (``ResNet3D`` ->
    ``ResNet3d``).
    """
    _, key = Registry.split_scope_key(type_name)
    registry.import_from_location()
    names: set = set()
    node: Optional[Registry] = registry
    while node is not None:
        names.update(node.module_dict)
        node = node.parent
    same_case = [k for k in sorted(names) if k.lower() == key.lower()]
    close = difflib.get_close_matches(key, sorted(names), n=n, cutoff=0.6)
    return list(dict.fromkeys(same_case + close))[:n]


def type_paths(cfg: Any, type_name: str) -> List[str]:
    """Key paths (``model.backbone``, ``custom_hooks[1]``) of the dicts in
    ``cfg`` whose ``type`` is ``type_name`` (the root itself is left out),
    and ``runner_type`` if that names it."""
    if isinstance(cfg, Config):
        cfg = dict(cfg.items())
    found: List[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if path and node.get('type') == type_name:
                found.append(path)
            for k, v in node.items():
                walk(v, f'{path}.{k}' if path else str(k))
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                walk(v, f'{path}[{i}]')

    walk(cfg, '')
    if isinstance(cfg, dict) and cfg.get('runner_type') == type_name:
        found.insert(0, 'runner_type')
    return found


def _find_registry(scope: Optional[str], name: str) -> Optional[Registry]:
    """The registry mmengine's message names (``scope::name``), found from
    mmengine's roots; without a scope, the current default scope's."""
    from mmengine import registry as mmengine_registry
    if scope is None:
        current = DefaultScope.get_current_instance()
        scope = current.scope_name if current is not None else 'mmengine'
    for root in vars(mmengine_registry).values():
        if not isinstance(root, Registry) or root.parent is not None \
                or root.name != name:
            continue
        todo = [root]
        while todo:
            node = todo.pop()
            if node.scope == scope:
                return node
            todo.extend(node.children.values())
        return root
    return None


def _as_unknown_type(err: KeyError) -> Optional[UnknownTypeError]:
    """mmengine's "X is not in the Y registry" KeyError, explained; None
    for any other KeyError."""
    text = err.args[0] if err.args and isinstance(err.args[0], str) else ''
    m = _MMENGINE_UNKNOWN.match(text)
    if m is None:
        return None
    scope, name = m.group('scope'), m.group('name')
    registry = _find_registry(scope, name)
    suggestions = suggest_types(m.group('type'), registry) \
        if registry is not None else []
    label = f'{registry.scope}::{registry.name}' if registry is not None \
        else (f'{scope}::{name}' if scope else name)
    return UnknownTypeError(m.group('type'), label, suggestions)


@contextlib.contextmanager
def explain_unknown_types(cfg: Any = None) -> Iterator[None]:
    """Turn unknown-``type`` errors raised inside the block into
    :class:`UnknownTypeError` with suggestions and, where ``cfg`` holds that
    ``type``, its key paths in ``cfg``.

    Nests: an inner block (a sub-config) explains first, and an outer one
    with a larger config replaces the key paths with longer ones.
    """
    try:
        yield
    except UnknownTypeError as err:
        paths = type_paths(cfg, err.type_name) if cfg is not None else []
        if not paths:
            raise
        raise UnknownTypeError(
            err.type_name, err.registry, err.suggestions,
            paths).with_traceback(err.__traceback__) from None
    except KeyError as err:
        explained = _as_unknown_type(err)
        if explained is None:
            raise
        if cfg is not None:
            explained.paths = type_paths(cfg, explained.type_name)
        raise UnknownTypeError(
            explained.type_name, explained.registry, explained.suggestions,
            explained.paths).with_traceback(err.__traceback__) from None


class AVRegistry(Registry):
    """mmengine's ``Registry`` whose ``build`` explains unknown types
    (:func:`explain_unknown_types`); lookups are unchanged."""

    def build(self, cfg: Any, *args, **kwargs) -> Any:
        with explain_unknown_types(cfg):
            return super().build(cfg, *args, **kwargs)


def _child(name: str, parent: Registry, *locations: str) -> Registry:
    return AVRegistry(
        name, parent=parent, scope='mmavcl', locations=list(locations))


# engine
RUNNERS = _child('runner', MMENGINE_RUNNERS, 'mmavcl.engine')
RUNNER_CONSTRUCTORS = _child('runner constructor',
                             MMENGINE_RUNNER_CONSTRUCTORS, 'mmavcl.engine')
LOOPS = _child('loop', MMENGINE_LOOPS, 'mmavcl.engine')
HOOKS = _child('hook', MMENGINE_HOOKS, 'mmavcl.engine')
LOG_PROCESSORS = _child('log processor', MMENGINE_LOG_PROCESSORS,
                        'mmavcl.engine')
OPTIMIZERS = _child('optimizer', MMENGINE_OPTIMIZERS, 'mmavcl.engine')
OPTIM_WRAPPERS = _child('optim wrapper', MMENGINE_OPTIM_WRAPPERS,
                        'mmavcl.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'mmavcl.engine')
PARAM_SCHEDULERS = _child('parameter scheduler', MMENGINE_PARAM_SCHEDULERS,
                          'mmavcl.engine')

# data
DATASETS = _child('dataset', MMENGINE_DATASETS, 'mmavcl.datasets')
DATA_SAMPLERS = _child('data sampler', MMENGINE_DATA_SAMPLERS,
                       'mmavcl.datasets')
TRANSFORMS = _child('transform', MMENGINE_TRANSFORMS,
                    'mmavcl.datasets.transforms')

# models
MODELS = _child('model', MMENGINE_MODELS, 'mmavcl.models')
MODEL_WRAPPERS = _child('model wrapper', MMENGINE_MODEL_WRAPPERS,
                        'mmavcl.models')
WEIGHT_INITIALIZERS = _child('weight initializer',
                             MMENGINE_WEIGHT_INITIALIZERS, 'mmavcl.models')
TASK_UTILS = _child('task util', MMENGINE_TASK_UTILS, 'mmavcl.models')

# evaluation
METRICS = _child('metric', MMENGINE_METRICS, 'mmavcl.evaluation')
EVALUATOR = _child('evaluator', MMENGINE_EVALUATOR, 'mmavcl.evaluation')

# visualisation, functions, inference
VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS,
                     'mmavcl.visualization')
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS,
                     'mmavcl.visualization')
FUNCTIONS = _child('function', MMENGINE_FUNCTIONS, 'mmavcl.datasets')
INFERENCERS = _child('inferencer', MMENGINE_INFERENCERS, 'mmavcl.apis')
