# The AVC baseline's encoders
# (configs/baselines/avc_r3d-18_audio-r2d-18_8xb32-16x2x1-200e_vggsound.py)
_base_ = ['../_base_/sound_localization_vggss.py']
model = {{_base_.avc_localizer}}
