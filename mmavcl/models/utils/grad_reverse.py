"""Gradient reversal layer (Ganin & Lempitsky, ICML 2015)."""
import torch
import torch.nn as nn
from torch import Tensor


class _ReverseGrad(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: Tensor, lambda_: float) -> Tensor:
        ctx.lambda_ = lambda_
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return -ctx.lambda_ * grad, None


class GradientReversal(nn.Module):
    """Identity in the forward pass; multiplies the gradient by ``-lambda_``.

    Used for adversarial objectives such as CtrlAug's mutual-information
    minimisation: the discriminator behind the layer learns to predict, the
    encoder before it learns to make the prediction fail.

    Args:
        lambda_ (float): Scale of the reversed gradient. Defaults to 1.0.
    """

    def __init__(self, lambda_: float = 1.0) -> None:
        super().__init__()
        self.lambda_ = lambda_

    def forward(self, x: Tensor) -> Tensor:
        return _ReverseGrad.apply(x, self.lambda_)

    def extra_repr(self) -> str:
        return f'lambda_={self.lambda_}'
