# AVTSS's encoders (configs/avtss/avtss_r2plus1d-18_8xb32-16x1x2-200e_k400.py)
_base_ = ['../_base_/sound_localization_flickr_soundnet.py']
model = {{_base_.avtss_localizer}}
