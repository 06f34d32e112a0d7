"""Validation that leaves the training random streams where it found them."""
from typing import Any, Dict, Optional

from mmengine.hooks import Hook

from mmavcl.registry import HOOKS
from ..resume import capture_rng_state, restore_rng_state


@HOOKS.register_module()
class ValRNGGuardHook(Hook):
    """Restore every global RNG after validation to its state before it.

    Validation draws random numbers (creating the val DataLoader iterator
    draws a base seed from the torch generator; models may add noise or
    sample views). Without this hook those draws shift the training random
    stream, so a run that validates after epoch ``k`` and a run resumed
    from epoch ``k``'s checkpoint (which does not repeat that validation)
    draw different training randomness: exact resume breaks. Here
    ``before_val`` captures the ``random``, numpy, torch CPU and (if
    initialised) CUDA states and ``after_val`` restores them, so validation
    is invisible to training.

    ``before_val``/``after_val`` enclose the whole val loop, the
    ``*_val_epoch``/``*_val_iter`` calls of every hook and the
    ``save_best`` checkpoint included. The priority is the highest so that
    the state is captured before any other hook's ``before_val``; the
    restore then also runs first in ``after_val``, whose only other user
    in mmengine 0.10.7 (``RuntimeInfoHook``) draws nothing.

    Named in ``configs/_base_/default_runtime.py``
    (``default_hooks.val_rng_guard``); ``AVRunner.train`` warns when a run
    with validation lacks it. A standalone ``runner.val()`` is guarded too,
    which changes nothing for it.
    """

    priority = 'HIGHEST'

    def __init__(self) -> None:
        self._saved: Optional[Dict[str, Any]] = None

    def before_val(self, runner) -> None:
        self._saved = capture_rng_state()

    def after_val(self, runner) -> None:
        if self._saved is not None:
            restore_rng_state(self._saved)
            self._saved = None
