from .dist_utils import (all_gather_with_grad, concat_all_gather,
                         get_dist_info)
from .feature_maps import global_pool, last_stage
from .feature_queue import FeatureQueue
from .grad_reverse import GradientReversal
from .momentum_encoder import MomentumEncoder
from .monitor import contrastive_accuracy, embedding_std
from .shuffle_bn import batch_shuffle_ddp, batch_unshuffle_ddp

__all__ = [
    'get_dist_info', 'all_gather_with_grad', 'concat_all_gather',
    'FeatureQueue', 'MomentumEncoder', 'batch_shuffle_ddp',
    'batch_unshuffle_ddp', 'GradientReversal', 'contrastive_accuracy',
    'embedding_std', 'global_pool', 'last_stage'
]
