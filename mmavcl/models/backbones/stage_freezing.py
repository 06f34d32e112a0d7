"""``frozen_stages`` and ``norm_eval``, shared by the ResNet-style backbones."""
from typing import List

import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm


class StageFreezingMixin:
    """Freeze the stem and the first ``frozen_stages`` stages
    (``layer1`` …); keep every BN in eval mode when ``norm_eval``.

    A backbone using it sets ``self.frozen_stages`` and ``self.norm_eval``
    and names its stages ``layer1..layerN``; it overrides
    :meth:`stem_modules` when its stem is more than ``conv1``.
    """

    frozen_stages: int = -1
    norm_eval: bool = False

    def stem_modules(self) -> List[nn.Module]:
        return [self.conv1]

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        num_stages = getattr(self, 'num_stages', 4)
        stages = [
            getattr(self, f'layer{i}')
            for i in range(1, min(self.frozen_stages, num_stages) + 1)
        ]
        for m in self.stem_modules() + stages:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
