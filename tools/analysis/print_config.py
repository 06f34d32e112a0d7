"""Print a config after inheritance and ``--cfg-options`` are resolved.

    python tools/analysis/print_config.py CONFIG [--cfg-options k=v ...]
"""
import argparse

from mmengine.config import DictAction

from mmavcl.apis.runner_utils import load_config


def main(argv=None):
    parser = argparse.ArgumentParser(description='Print the full config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.depth=34')
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    print(cfg.pretty_text)


if __name__ == '__main__':
    main()
