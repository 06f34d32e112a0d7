import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def get_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmavcl', 'version.py')) as f:
        exec(compile(f.read(), 'mmavcl/version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(name: str) -> list:
    """Requirement lines of ``requirements/<name>.txt`` (comments dropped)."""
    lines = []
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-'):
                lines.append(line)
    return lines


def add_mim_extension() -> None:
    """Expose ``configs/`` and ``tools/`` as ``mmavcl/.mim/`` so that
    ``_base_ = 'mmavcl::_base_/default_runtime.py'`` works from other
    projects' configs (the OpenMMLab/mim convention). Editable installs get
    symlinks, wheels get copies."""
    editable = any(cmd in sys.argv for cmd in ('develop', 'editable_wheel'))
    mim_root = osp.join(HERE, 'mmavcl', '.mim')
    os.makedirs(mim_root, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        src, dst = osp.join(HERE, name), osp.join(mim_root, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if editable:
            os.symlink(osp.relpath(src, mim_root), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copy(src, dst)


EXTRAS = ('audio', 'augment', 'visual', 'mmaction', 'storage', 'tests')
extras_require = {name: parse_requirements(name) for name in EXTRAS}
extras_require['all'] = sorted({r for reqs in extras_require.values()
                                for r in reqs})

add_mim_extension()
setup(
    name='mmavcl',
    version=get_version(),
    description='Self-supervised audio-visual and video representation '
    'learning on mmengine, usable as an MMAction2 extension',
    long_description=open(osp.join(HERE, 'README.md'), encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(
        exclude=('configs', 'tools', 'tests', 'docs', 'benchmarks')),
    include_package_data=True,
    package_data={'mmavcl': ['.mim/configs/**/*', '.mim/tools/**/*',
                             '.mim/model-index.yml']},
    python_requires='>=3.9',
    install_requires=parse_requirements('runtime'),
    extras_require=extras_require,
    classifiers=[
        'License :: OSI Approved :: Apache Software License',
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    zip_safe=False,
)
