"""Plot training curves from mmengine's ``vis_data/scalars.json``.

    python tools/analysis/plot_logs.py WORK_DIR/TIMESTAMP/vis_data/scalars.json \
        --keys loss loss_vv --out curves.png
"""
import argparse
import json
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple


def read_scalars(path: str) -> Dict[str, List[Tuple[int, float]]]:
    """``{key: [(step, value), ...]}`` from a JSON-lines scalars file."""
    series: Dict[str, List[Tuple[int, float]]] = defaultdict(list)
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}:{line_no}: not JSON ({err})') from err
            step = record.get('step', record.get('iter', line_no))
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != 'step':
                    series[key].append((int(step), float(value)))
    return dict(series)


def plot(series: Dict[str, List[Tuple[int, float]]], keys: Sequence[str],
         out: str, title: str = '') -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    missing = [k for k in keys if k not in series]
    if missing:
        raise KeyError(f'keys {missing} are not in the log; available: '
                       f'{sorted(series)}')
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 2.6 * len(keys)),
                             squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        steps, values = zip(*series[key])
        ax.plot(steps, values, lw=1.2)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel('iteration')
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description='Plot curves from logs')
    parser.add_argument('json_log', help='vis_data/scalars.json')
    parser.add_argument('--keys', nargs='+', default=['loss'])
    parser.add_argument('--title', default='')
    parser.add_argument('--out', default='curves.png')
    args = parser.parse_args(argv)
    plot(read_scalars(args.json_log), args.keys, args.out, args.title)
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
