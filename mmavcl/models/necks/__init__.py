from .mlp_neck import ConvMLPNeck, MLPNeck

__all__ = ['MLPNeck', 'ConvMLPNeck']
