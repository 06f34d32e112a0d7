from .event_localizer import AVEventLocalizer
from .recognizer import AVRecognizer, load_backbone_checkpoint, select_prefix
from .sound_localizer import SoundLocalizer, audio_visual_maps, project_map

__all__ = [
    'AVRecognizer', 'AVEventLocalizer', 'load_backbone_checkpoint',
    'select_prefix', 'SoundLocalizer', 'audio_visual_maps', 'project_map'
]
