# GLCL's released demo [CODE pretrain.py]: Adam, lr 1e-4, constant, 10
# epochs. The paper's own schedule is unknown (METHODS.md s2).
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4))
param_scheduler = []
# mmengine's EpochBasedTrainLoop + exact mid-epoch resume (engine/loops.py)
train_cfg = dict(type='AVEpochBasedTrainLoop', max_epochs=10)
auto_scale_lr = dict(enable=False, base_batch_size=32)
