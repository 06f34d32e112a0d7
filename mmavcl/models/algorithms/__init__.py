from .av_correspondence import AVCorrespondence
from .avtss import AVTSS
from .base import BaseSSLAlgorithm, ModuleGroup, global_pool
from .ctrlaug import (CLUBEstimator, CtrlAug, cell_extents,
                      region_overlap_weights)
from .glcl import GLCL
from .moco_video import MoCoVideo
from .vclr import VCLR

__all__ = [
    'BaseSSLAlgorithm', 'ModuleGroup', 'global_pool', 'MoCoVideo',
    'AVCorrespondence', 'VCLR', 'GLCL', 'CtrlAug', 'AVTSS', 'CLUBEstimator',
    'cell_extents', 'region_overlap_weights'
]
