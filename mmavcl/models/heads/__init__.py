from .cls_head import ClsHead
from .pretext_head import PretextClsHead
from .temporal_head import TemporalSegmentHead

__all__ = ['ClsHead', 'PretextClsHead', 'TemporalSegmentHead']
