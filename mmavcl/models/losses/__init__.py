from .cross_entropy import CrossEntropyLoss
from .info_nce import InfoNCELoss, multi_positive_nce
from .mil_nce import MILNCELoss, time_window_bags
from .soft_contrast import SoftTargetContrastLoss

__all__ = [
    'InfoNCELoss', 'multi_positive_nce', 'MILNCELoss', 'time_window_bags',
    'SoftTargetContrastLoss', 'CrossEntropyLoss'
]
