"""mmavcl's registries: children of mmengine's root registries, scope ``mmavcl``.

Each registry names the package that holds its members in ``locations`` so that
building ``type='X'`` under ``default_scope='mmavcl'`` (or ``type='mmavcl.X'``
from another scope) imports the right module without manual imports.
"""
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
from mmengine.registry import Registry

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'TASK_UTILS', 'METRICS',
    'EVALUATOR', 'VISUALIZERS', 'VISBACKENDS', 'FUNCTIONS', 'INFERENCERS'
]


def _child(name: str, parent: Registry, *locations: str) -> Registry:
    return Registry(
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
VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS, 'mmavcl.visualization')
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS,
                     'mmavcl.visualization')
FUNCTIONS = _child('function', MMENGINE_FUNCTIONS, 'mmavcl.datasets')
INFERENCERS = _child('inferencer', MMENGINE_INFERENCERS, 'mmavcl.apis')
