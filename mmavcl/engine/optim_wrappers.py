import contextlib
from typing import Union

import torch
from mmengine.optim import OptimWrapper

from mmavcl.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """Mixed precision by autocast alone, without a gradient scaler.

    mmengine's ``AmpOptimWrapper`` asserts a CUDA device; this wrapper is the
    CPU twin used by ``--amp`` when no GPU is present (bf16 autocast, which
    needs no loss scaling) and works on GPUs with bf16 as well.

    Args:
        dtype (str | torch.dtype): autocast dtype. Defaults to ``'bfloat16'``.
    """

    def __init__(self, *args, dtype: Union[str, torch.dtype] = 'bfloat16',
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.cast_dtype = getattr(torch, dtype) if isinstance(dtype,
                                                              str) else dtype

    @contextlib.contextmanager
    def optim_context(self, model: torch.nn.Module):
        device = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(
                device_type=device, dtype=self.cast_dtype):
            yield
