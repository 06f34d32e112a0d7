"""Overlay sound-localization heatmaps on their frames (PNG strip + GIF).

Reads the predictions that ``tools/test.py CONFIG CKPT --dump preds.pkl``
writes for a sound-localization config (``heatmaps`` ``(V, T, H, W)`` per
video, with the views' frame indices and crop boxes), decodes the same
frames from the video files and writes, per video, ``<name>.png`` (a strip
of ``--num-frames`` frames: each frame with the map over it, JET colour
map, the top half of the map (the cIoU's median threshold) outlined) and
``<name>.gif`` (every frame). With ``--ann-file`` the annotated boxes are
drawn in green.

    python tools/analysis/vis_sound_localization.py preds.pkl \\
        --data-root data/toy_soundloc --out work_dirs/vis_soundloc \\
        --ann-file data/toy_soundloc/sound_localization_val.json
"""
import argparse
import os
import os.path as osp
import pickle
from typing import Dict, List, Optional

import cv2
import numpy as np
from PIL import Image

from mmavcl.datasets.media import build_video_reader
from mmavcl.evaluation.metrics import box_map, load_sound_localization_boxes


def overlay(frame: np.ndarray, heatmap: np.ndarray,
            alpha: float = 0.5) -> np.ndarray:
    """uint8 RGB ``(H, W, 3)`` of ``frame`` (resized to the map) under the
    min-max scaled ``heatmap`` ``(H, W)`` in JET, with the map's top half
    (above its median) outlined in white."""
    h, w = heatmap.shape
    frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
    lo, hi = float(heatmap.min()), float(heatmap.max())
    scaled = (heatmap - lo) / (hi - lo) if hi > lo else np.zeros_like(
        heatmap)
    colour = cv2.applyColorMap((scaled * 255).astype(np.uint8),
                               cv2.COLORMAP_JET)[..., ::-1]
    out = (frame * (1 - alpha) + colour * alpha).astype(np.uint8)
    top = (heatmap > np.sort(heatmap.ravel())[heatmap.size // 2])
    contours, _ = cv2.findContours(top.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (255, 255, 255), 1)
    return out


def draw_ground_truth(img: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Outline the ground-truth map's support (``gt > 0``) in green."""
    contours, _ = cv2.findContours((gt > 0).astype(np.uint8),
                                   cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    img = np.ascontiguousarray(img)
    cv2.drawContours(img, contours, -1, (0, 255, 0), 1)
    return img


def _view_frames(path: str, meta: dict) -> np.ndarray:
    """The view's frames ``(T, h, w, 3)`` as the model saw them (crop box
    applied, flip applied), at the source resolution of the crop."""
    reader = build_video_reader(path, backend='pyav')
    frames = reader.get_batch(np.asarray(meta['frame_inds'], dtype=np.int64))
    x1, y1, x2, y2 = (int(round(v)) for v in meta.get(
        'crop_box', (0, 0, frames.shape[2], frames.shape[1])))
    frames = frames[:, y1:y2, x1:x2]
    return frames[:, :, ::-1] if meta.get('flip', False) else frames


def render(pred: dict, data_root: str, out_dir: str,
           boxes: Optional[Dict] = None, num_frames: int = 4,
           scale: int = 4) -> List[str]:
    """Write ``<name>.png`` and ``<name>.gif`` of one prediction; return
    their paths."""
    maps = np.asarray(pred['heatmaps'], dtype=np.float32)   # (V, T, H, W)
    vid = pred['video_id']
    src = osp.join(data_root, vid)
    annotated = (boxes or {}).get(vid, {})
    tiles = []
    for meta, view_maps in zip(pred['view_meta'], maps):
        frames = _view_frames(src, meta)
        for idx, frame, hm in zip(meta['frame_inds'], frames, view_maps):
            img = overlay(frame, hm)
            if int(idx) in annotated:
                img = draw_ground_truth(img, box_map(
                    annotated[int(idx)], tuple(pred['source_shape']),
                    hm.shape, meta.get('crop_box'),
                    bool(meta.get('flip', False))))
            tiles.append(cv2.resize(img, None, fx=scale, fy=scale,
                                    interpolation=cv2.INTER_NEAREST))
    name = osp.splitext(osp.basename(vid))[0]
    os.makedirs(out_dir, exist_ok=True)
    pick = np.linspace(0, len(tiles) - 1, min(num_frames, len(tiles)))
    png = osp.join(out_dir, f'{name}.png')
    Image.fromarray(np.concatenate([tiles[int(round(i))] for i in pick],
                                   axis=1)).save(png)
    gif = osp.join(out_dir, f'{name}.gif')
    Image.fromarray(tiles[0]).save(
        gif, save_all=True, append_images=[Image.fromarray(t)
                                           for t in tiles[1:]],
        duration=80, loop=0)
    return [png, gif]


def main(argv=None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('predictions', help='pickle of tools/test.py --dump')
    parser.add_argument('--data-root', required=True,
                        help='folder the video ids are relative to')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--ann-file', help='annotation list: draw its boxes')
    parser.add_argument('--num-frames', type=int, default=4,
                        help='frames in the PNG strip')
    parser.add_argument('--max-videos', type=int, default=None)
    parser.add_argument('--scale', type=int, default=4,
                        help='integer upscaling of the written images')
    args = parser.parse_args(argv)
    with open(args.predictions, 'rb') as f:
        preds = pickle.load(f)
    if not preds or 'heatmaps' not in preds[0]:
        raise KeyError(f'{args.predictions}: no `heatmaps` in the '
                       'predictions (dump a sound-localization config)')
    boxes = load_sound_localization_boxes(args.ann_file) \
        if args.ann_file else None
    written = []
    for pred in preds[:args.max_videos]:
        written += render(pred, args.data_root, args.out, boxes,
                          args.num_frames, args.scale)
    print(f'wrote {len(written)} files to {args.out}')
    return written


if __name__ == '__main__':
    main()
