from .online_eval_hook import OnlineKNNHook
from .nonfinite_guard_hook import (ExplodingGradientError,
                                   NonFiniteLossError, NonFiniteLossGuard,
                                   NonFiniteLossGuardHook)
__all__ = []
__all__ += [
    'NonFiniteLossGuardHook', 'NonFiniteLossGuard', 'NonFiniteLossError',
    'ExplodingGradientError'
]
__all__ += ['OnlineKNNHook']
from .data_report_hook import (BadSampleSummaryHook,  # noqa: E402
                               DataReportHook)
__all__ += ['DataReportHook', 'BadSampleSummaryHook']
from .val_rng_guard_hook import ValRNGGuardHook  # noqa: E402
__all__ += ['ValRNGGuardHook']
from .safe_logger_hook import SafeLoggerHook  # noqa: E402
__all__ += ['SafeLoggerHook']
