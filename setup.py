import os.path as osp

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


EXTRAS = ('audio', 'augment', 'visual', 'mmaction', 'tests')
extras_require = {name: parse_requirements(name) for name in EXTRAS}
extras_require['all'] = sorted({r for reqs in extras_require.values()
                                for r in reqs})

setup(
    name='mmavcl',
    version=get_version(),
    description='Self-supervised audio-visual and video representation '
    'learning on mmengine, usable as an MMAction2 extension',
    long_description=open(osp.join(HERE, 'README.md'), encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    include_package_data=True,
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
