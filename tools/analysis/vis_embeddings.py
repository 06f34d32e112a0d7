"""2-D map (t-SNE, or UMAP when installed) of extracted features by label.

    python tools/analysis/vis_embeddings.py feats.npz --out tsne.png
"""
import argparse

import numpy as np


def embed_2d(features: np.ndarray, method: str = 'tsne',
             seed: int = 0) -> np.ndarray:
    """(N, D) features → (N, 2) coordinates."""
    if method == 'umap':
        try:
            import umap
        except ImportError as err:
            raise ImportError('--method umap needs `pip install umap-learn`'
                              ) from err
        return umap.UMAP(random_state=seed).fit_transform(features)
    from sklearn.manifold import TSNE
    perplexity = float(min(30, max(2, (len(features) - 1) // 3)))
    return TSNE(n_components=2, perplexity=perplexity, init='pca',
                random_state=seed).fit_transform(features)


def main(argv=None):
    parser = argparse.ArgumentParser(description='t-SNE/UMAP of features')
    parser.add_argument('features', help='npz from tools/extract_features.py')
    parser.add_argument('--out', default='tsne.png')
    parser.add_argument('--method', choices=['tsne', 'umap'], default='tsne')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    data = np.load(args.features)
    for key in ('features', 'labels'):
        if key not in data:
            raise KeyError(f'{args.features} has no `{key}` array '
                           f'(found {list(data.keys())})')
    feats = data['features'].reshape(len(data['features']), -1)
    labels = data['labels']
    xy = embed_2d(feats.astype(np.float32), args.method, args.seed)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 6))
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap='tab20', s=12)
    ax.legend(*sc.legend_elements(), title='label', fontsize=7, loc='best')
    ax.set_title(f'{args.method} of {len(feats)} features')
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
