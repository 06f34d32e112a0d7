from .av_correspondence import AVCorrespondence
from .avtss import AVTSS
from .base import BaseSSLAlgorithm, embed, global_pool
from .ctrlaug import (CLUBEstimator, CtrlAug, cell_extents,
                      region_overlap_weights)
from .glcl import GLCL
from .moco_video import MoCoVideo
from .simclr_video import SimCLRVideo
from .vclr import VCLR

__all__ = [
    'BaseSSLAlgorithm', 'embed', 'global_pool', 'MoCoVideo', 'SimCLRVideo',
    'AVCorrespondence', 'VCLR', 'GLCL', 'CtrlAug', 'AVTSS', 'CLUBEstimator',
    'cell_extents', 'region_overlap_weights'
]
