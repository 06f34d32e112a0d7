"""See what a pipeline feeds the model: one PNG per sample.

    python tools/analysis/browse_dataset.py CONFIG --out DIR [--num 4]
        [--split train] [--gif] [--cfg-options ...]

Each PNG shows, per video view, the source frame at the view's first frame
index with the view's crop box drawn on it (in source pixels, as recorded by
the pipeline), then the view's frames as the model gets them; and, per audio
view, its log-mel spectrogram. ``--gif`` also writes one animated GIF per
video view.
"""
import argparse
import os
import os.path as osp
from typing import List

import numpy as np
from mmengine.config import DictAction

from mmavcl.apis.runner_utils import load_config
from mmavcl.registry import DATASETS


def log_mel_image(wave: np.ndarray, sample_rate: int = 16000,
                  n_mels: int = 64) -> np.ndarray:
    """``(n_mels, frames)`` log-mel in dB (torchaudio, per-clip clamp)."""
    import torch
    from mmavcl.utils import require
    ta = require('torchaudio', 'audio', 'the log-mel image')
    mel = ta.transforms.MelSpectrogram(sample_rate, n_fft=1024,
                                       win_length=400, hop_length=160,
                                       n_mels=n_mels)(torch.as_tensor(wave))
    db = 10 * torch.log10(mel.clamp(min=1e-10))
    return torch.maximum(db, db.max() - 80).numpy()


def source_frame(filename: str, index: int) -> np.ndarray:
    import decord
    return decord.VideoReader(filename)[int(index)].asnumpy()


def draw_sample(sample: dict, out_png: str, max_frames: int = 8) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt
    ds = sample['data_samples']
    videos: List = sample['inputs'].get('video', [])
    audios: List = sample['inputs'].get('audio', [])
    rows = len(videos) + len(audios)
    cols = max_frames + 1
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.7 * rows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    filename = ds.metainfo.get('filename', ds.metainfo.get('video_id'))
    for r, (video, meta) in enumerate(zip(videos, ds.view_meta)):
        frames = video.permute(1, 2, 3, 0).numpy()  # (T, H, W, C) uint8
        ax = axes[r, 0]
        ax.imshow(source_frame(filename, meta['frame_inds'][0]))
        if meta.get('crop_box') is not None:
            x1, y1, x2, y2 = meta['crop_box']
            ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1,
                                           fill=False, color='red', lw=1.5))
        ax.set_title(f'{meta.get("view_type", "view")} {r}'
                     f'{" flip" if meta.get("flip") else ""}', fontsize=7)
        step = max(1, len(frames) // max_frames)
        for c, t in enumerate(range(0, len(frames), step)[:max_frames]):
            axes[r, c + 1].imshow(frames[t])
            axes[r, c + 1].set_title(f'#{meta["frame_inds"][t]}',
                                     fontsize=6)
    for k, wave in enumerate(audios):
        r = len(videos) + k
        meta = ds.audio_meta[k] if 'audio_meta' in ds else {}
        mel = log_mel_image(wave.numpy())
        ax = plt.subplot2grid((rows, cols), (r, 0), colspan=cols, fig=fig)
        ax.imshow(mel, origin='lower', aspect='auto', cmap='magma')
        span = meta.get('time_span')
        ax.set_title(f'audio {k}: log-mel'
                     f'{f" {span[0]:.2f}-{span[1]:.2f} s" if span else ""}'
                     f'{" (padded)" if meta.get("padded") else ""}',
                     fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(osp.basename(str(filename)), fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)


def write_gifs(sample: dict, prefix: str) -> List[str]:
    from PIL import Image
    paths = []
    for v, video in enumerate(sample['inputs'].get('video', [])):
        frames = video.permute(1, 2, 3, 0).numpy()
        images = [Image.fromarray(f) for f in frames]
        path = f'{prefix}_view{v}.gif'
        images[0].save(path, save_all=True, append_images=images[1:],
                       duration=125, loop=0)
        paths.append(path)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description='Browse pipeline outputs')
    parser.add_argument('config')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--num', type=int, default=4, help='samples')
    parser.add_argument('--split', default='train',
                        help='use <split>_dataloader of the config')
    parser.add_argument('--gif', action='store_true')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, scope=True)
    key = f'{args.split}_dataloader'
    if not cfg.get(key):
        raise KeyError(f'{args.config} has no `{key}`')
    np.random.seed(args.seed)
    dataset = DATASETS.build(cfg[key].dataset)
    os.makedirs(args.out, exist_ok=True)
    for i in range(min(args.num, len(dataset))):
        sample = dataset[i]
        png = osp.join(args.out, f'sample_{i:03d}.png')
        draw_sample(sample, png)
        print(f'saved {png}')
        if args.gif:
            for path in write_gifs(sample, osp.join(args.out,
                                                    f'sample_{i:03d}')):
                print(f'saved {path}')


if __name__ == '__main__':
    main()
