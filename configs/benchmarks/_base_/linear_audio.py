# Linear probe of the audio encoder of an audio-visual checkpoint: its
# weights sit under `audio_backbone.` there.
_base_ = ['./linear.py']
model = dict(modality='audio', pretrained_prefix='audio_backbone.')
