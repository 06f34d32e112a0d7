# GLCL's encoders (configs/glcl/glcl_r3d-18-2path_8xb32-32x1x1-10e_k400.py)
_base_ = ['../_base_/sound_localization_flickr_soundnet.py']
model = {{_base_.glcl_localizer}}
