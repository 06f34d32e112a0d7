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


def check_mim_extension() -> None:
    """``mmavcl/.mim/{configs,tools,model-index.yml}`` are symlinks to the
    repository's top-level folders, committed in git (the OpenMMLab/mim
    layout): a plain clone on ``PYTHONPATH`` and an editable install see the
    live files, and a wheel gets copies (``build_py`` follows the links, see
    ``package_data``). The source tree is never rewritten by a build. A
    checkout without working symlinks (e.g. Windows without developer mode)
    is refused here rather than shipping a wheel without configs."""
    mim_root = osp.join(HERE, 'mmavcl', '.mim')
    for name in ('configs', 'tools', 'model-index.yml'):
        if not osp.exists(osp.join(mim_root, name)):
            raise RuntimeError(
                f'{osp.join(mim_root, name)} is missing or not a symlink to '
                f'../../{name}: clone with symlinks enabled '
                '(git config core.symlinks true)')


EXTRAS = ('audio', 'augment', 'visual', 'decord', 'logging', 'mmaction',
          'storage', 'tests')
extras_require = {name: parse_requirements(name) for name in EXTRAS}
# the tests exercise the logging backends
extras_require['tests'] += extras_require['logging']
# what `make demo` installs: the toy chain's log-mel, GPU-side augmentation,
# probes and plots; no test, logging, decord or MMAction2 packages
extras_require['demo'] = sorted({r for name in ('audio', 'augment', 'visual')
                                 for r in extras_require[name]})
extras_require['all'] = sorted({r for reqs in extras_require.values()
                                for r in reqs})

check_mim_extension()
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
