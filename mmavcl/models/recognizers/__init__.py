from .recognizer import AVRecognizer, load_backbone_checkpoint, select_prefix

__all__ = ['AVRecognizer', 'load_backbone_checkpoint', 'select_prefix']
