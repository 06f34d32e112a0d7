from .event_localizer import AVEventLocalizer
from .recognizer import AVRecognizer, load_backbone_checkpoint, select_prefix

__all__ = [
    'AVRecognizer', 'AVEventLocalizer', 'load_backbone_checkpoint',
    'select_prefix'
]
