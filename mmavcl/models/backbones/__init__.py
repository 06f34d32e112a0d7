from .audio_resnet import AudioResNet1d, AudioResNet2d
from .glcl_resnet3d import GLCLBasicBlock3d, GLCLResNet3d
from .resnet3d import Conv2plus1d, ResNet2Plus1d, ResNet3d
from .s3dg import S3DG
from .tsn_resnet2d import TSNResNet2d
from .two_pathway_resnet3d import TwoPathwayResNet3d

__all__ = [
    'ResNet3d', 'ResNet2Plus1d', 'Conv2plus1d', 'TwoPathwayResNet3d',
    'TSNResNet2d', 'S3DG', 'AudioResNet2d', 'AudioResNet1d', 'GLCLResNet3d',
    'GLCLBasicBlock3d'
]
