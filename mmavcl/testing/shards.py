"""WebDataset shards for tests: real tar files with any keys and members
(``tools/data/make_shards.py`` writes shards from an annotation list; tests
also need many samples from few videos, and broken shards)."""
import io
import json
import os
import os.path as osp
import tarfile
from typing import Dict, List, Sequence, Tuple

__all__ = ['add_tar_member', 'write_shards']


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
