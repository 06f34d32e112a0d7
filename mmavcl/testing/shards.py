"""WebDataset shards for tests: real tar files with any keys and members
(``tools/data/make_shards.py`` writes shards from an annotation list; tests
also need many samples from few videos, and broken shards)."""
import io
import json
import os
import os.path as osp
import tarfile
from typing import Dict, List, Sequence, Tuple

__all__ = ['add_tar_member', 'write_shards', 'write_id_shards',
           'decode_sample_ids']


def add_tar_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """Append the file ``name`` holding ``data`` to an open tar."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_shards(samples: Sequence[Tuple[str, Dict[str, bytes]]],
                 out_dir: str, per_shard: int,
                 prefix: str = 'shard') -> Tuple[str, List[str]]:
    """Write ``samples`` (``(key, {ext: bytes})``, members in the given
    order) into tars of ``per_shard`` samples, ``OUT/{prefix}-{i:06d}.tar``,
    and ``OUT/index.json`` with each shard's sample count.

    Returns:
        (the brace pattern of the shards, their file names).
    """
    os.makedirs(out_dir, exist_ok=True)
    counts: Dict[str, int] = {}
    for s in range(0, len(samples), per_shard):
        name = f'{prefix}-{s // per_shard:06d}.tar'
        with tarfile.open(osp.join(out_dir, name), 'w') as tar:
            for key, members in samples[s:s + per_shard]:
                for ext, data in members.items():
                    add_tar_member(tar, f'{key}.{ext}', data)
        counts[name] = len(samples[s:s + per_shard])
    with open(osp.join(out_dir, 'index.json'), 'w') as f:
        json.dump(dict(shards=counts, num_samples=sum(counts.values())), f)
    names = sorted(counts)
    return (osp.join(out_dir, f'{prefix}-{{000000..{len(names) - 1:06d}}}'
                     '.tar'), names)


def write_id_shards(out_dir: str, shard_sizes: Sequence[int],
                    num_frames: int = 4, size: Tuple[int, int] = (64, 64),
                    bad: Sequence[int] = (), prefix: str = 'ids',
                    first_id: int = 0) -> Tuple[str, List[str], List[int]]:
    """Shards of H.264 videos whose every frame spells the sample's id in
    :func:`~mmavcl.testing.media.timestamp_frames`' bands (read it back
    from decoded pixels with :func:`decode_sample_ids`): shard ``s`` holds
    ``shard_sizes[s]`` samples, ids counted on from ``first_id`` over the
    shards (another dataset's shards can take the ids after this one's),
    keys ``s{id:03d}``; the ids in ``bad`` get random bytes as their
    ``.mp4`` member (a bad member). Ids wrap at ``2 ** TIMESTAMP_BITS``.

    Returns:
        (the shards' brace pattern, their file names, the good ids).
    """
    import numpy as np

    from .media import timestamp_frames, write_video
    total = sum(shard_sizes)
    ids = range(first_id, first_id + total)
    if ids.stop > 2**8:
        raise ValueError(f'ids up to {ids.stop - 1}: the bands spell ids '
                         '< 256')
    codes = timestamp_frames(ids.stop, size)  # frame i spells i
    tmp = osp.join(out_dir, '.videos')
    samples = []
    for i in ids:
        if i in bad:
            video = np.random.default_rng(i).integers(
                0, 256, 4096, dtype=np.uint8).tobytes()
        else:
            path = write_video(osp.join(tmp, f'{i}.mp4'),
                               np.repeat(codes[i:i + 1], num_frames, 0))
            with open(path, 'rb') as f:
                video = f.read()
        samples.append((f's{i:03d}', {'mp4': video, 'json': json.dumps(
            dict(label=i % 2)).encode()}))
    counts: Dict[str, int] = {}
    start = 0
    for s, n in enumerate(shard_sizes):
        name = f'{prefix}-{s:06d}.tar'
        with tarfile.open(osp.join(out_dir, name), 'w') as tar:
            for key, members in samples[start:start + n]:
                for ext, data in members.items():
                    add_tar_member(tar, f'{key}.{ext}', data)
        counts[name] = n
        start += n
    with open(osp.join(out_dir, 'index.json'), 'w') as f:
        json.dump(dict(shards=counts, num_samples=total), f)
    pattern = osp.join(
        out_dir, f'{prefix}-{{000000..{len(shard_sizes) - 1:06d}}}.tar')
    return pattern, sorted(counts), [i for i in ids if i not in bad]


def decode_sample_ids(video) -> List[int]:
    """The sample ids :func:`write_id_shards` spelled into the frames of a
    packed batch ``(B, C, T, H, W)`` (or one item, ``(C, T, H, W)``): the
    first frame's, after checking every frame of the clip agrees."""
    from .media import decode_frame_index
    video = video.numpy() if hasattr(video, 'numpy') else video
    batch = video[None] if video.ndim == 4 else video
    ids = []
    for clip in batch:
        per_frame = decode_frame_index(clip, channel_last=False)
        if len(set(per_frame.tolist())) != 1:
            raise ValueError(f'the frames of one clip spell different ids: '
                             f'{per_frame.tolist()}')
        ids.append(int(per_frame[0]))
    return ids
