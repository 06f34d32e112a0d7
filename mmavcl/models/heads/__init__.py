from .cls_head import ClsHead
from .pretext_head import PretextClsHead

__all__ = ['ClsHead', 'PretextClsHead']
