"""Watch representation quality during pretraining with a kNN probe."""
from typing import Dict, Optional, Union

import numpy as np
import torch
from mmengine.dist import collect_results, get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmavcl.evaluation.functional import knn_classify, retrieval_recall
from mmavcl.evaluation.metrics.retrieval import prepare_features
from mmavcl.registry import HOOKS

DATA_BATCH = Optional[Union[dict, tuple, list]]


@HOOKS.register_module()
class OnlineKNNHook(Hook):
    """Every ``interval`` epochs, kNN-classify a small labelled set with the
    current backbone and log ``online_knn/top1`` (and retrieval ``R@1``).

    The backbone (``model.<backbone>``) embeds every view of
    ``gallery_dataloader`` (and ``query_dataloader``) in eval mode, the
    pooled features are compared with cosine similarity and classified by
    a weighted vote of the ``k`` nearest gallery items
    (:func:`~mmavcl.evaluation.functional.knn_classify`). Without a query
    loader the gallery is its own query set, leave-one-video-out. The
    model's train/eval state is restored afterwards, so BN statistics and
    momentum encoders are untouched (no gradient is taken).

    Args:
        gallery_dataloader: Dataloader config of the labelled gallery
            (test-style pipeline, a few hundred videos).
        query_dataloader: Optional dataloader config of the queries.
        interval: Epochs (or iterations when ``by_epoch=False``) between
            evaluations.
        by_epoch: Count epochs or iterations.
        backbone: Attribute of the model to embed with (``'backbone'``,
            ``'audio_backbone'``).
        modality: Input key the backbone reads (``'video'`` / ``'audio'``).
        k: Neighbours; temperature: vote temperature.
        mode: ``'video_mean'`` or ``'clip'``.
    """
    priority = 'LOW'

    def __init__(self,
                 gallery_dataloader: dict,
                 query_dataloader: Optional[dict] = None,
                 interval: int = 1,
                 by_epoch: bool = True,
                 backbone: str = 'backbone',
                 modality: str = 'video',
                 k: int = 20,
                 temperature: float = 0.07,
                 mode: str = 'video_mean') -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.gallery_cfg = gallery_dataloader
        self.query_cfg = query_dataloader
        self.interval = interval
        self.by_epoch = by_epoch
        self.backbone = backbone
        self.modality = modality
        self.k = k
        self.temperature = temperature
        self.mode = mode
        self._loaders: Dict[str, object] = {}
        self.history: list = []

    def _loader(self, runner, name: str, cfg: dict):
        if name not in self._loaders:
            self._loaders[name] = runner.build_dataloader(
                cfg, seed=runner.seed)
        return self._loaders[name]

    @torch.no_grad()
    def _embed(self, model, loader):
        backbone = getattr(model, self.backbone, None)
        if backbone is None:
            raise AttributeError(
                f'OnlineKNNHook(backbone={self.backbone!r}): the model '
                f'{type(model).__name__} has no such attribute')
        records = []
        for data in loader:
            data = model.data_preprocessor(data, False)
            inputs = data['inputs']
            views = inputs[self.modality] if isinstance(inputs, dict) \
                else inputs
            if isinstance(views, torch.Tensor):
                views = [views]
            per_view = []
            for v in views:
                f = backbone(v)
                f = f[-1] if isinstance(f, (tuple, list)) else f
                per_view.append(f.flatten(2).mean(2) if f.dim() > 2 else f)
            feats = torch.stack(per_view, 1).float().cpu().numpy()
            for ds, f in zip(data['data_samples'], feats):
                if 'gt_label' not in ds:
                    raise KeyError('OnlineKNNHook needs labelled data: '
                                   f"{ds.metainfo.get('video_id')} has no "
                                   'gt_label')
                records.append(
                    dict(features=f, label=int(ds.gt_label.reshape(-1)[0]),
                         video_id=str(ds.metainfo.get('video_id',
                                                      len(records)))))
        if get_dist_info()[1] > 1:
            records = collect_results(records, len(loader.dataset), 'cpu')
        return records

    def _rows(self, records):
        views = [len(r['features']) for r in records]
        feats = np.concatenate([r['features'] for r in records])
        labels = np.repeat([r['label'] for r in records], views)
        ids = np.repeat([r['video_id'] for r in records], views)
        return prepare_features(feats, labels, ids, self.mode)

    def evaluate(self, runner) -> Optional[Dict[str, float]]:
        """Embed, classify, log; returns the metrics on rank 0."""
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        was_training = model.training
        model.eval()
        try:
            gallery = self._embed(
                model, self._loader(runner, 'gallery', self.gallery_cfg))
            query = None if self.query_cfg is None else self._embed(
                model, self._loader(runner, 'query', self.query_cfg))
        finally:
            model.train(was_training)
        if get_dist_info()[0] != 0:
            return None
        g = self._rows(gallery)
        q = g if query is None else self._rows(query)
        res = {
            'online_knn/top1':
            knn_classify(q[0], q[1], g[0], g[1], k=self.k,
                         temperature=self.temperature, topk=(1, ),
                         num_classes=int(max(q[1].max(), g[1].max())) + 1,
                         query_ids=q[2], gallery_ids=g[2])['top1'],
            'online_knn/R@1':
            retrieval_recall(q[0], q[1], g[0], g[1], topk=(1, ),
                             query_ids=q[2], gallery_ids=g[2])['R@1'],
        }
        # called after the epoch/iteration, before the runner counts it
        step = runner.epoch + 1 if self.by_epoch else runner.iter + 1
        runner.logger.info(f'online kNN (k={self.k}, {len(q[1])} queries, '
                           f'{len(g[1])} gallery items) at '
                           f'{"epoch" if self.by_epoch else "iter"} {step}: '
                           + ', '.join(f'{k} {v:.2f}'
                                       for k, v in res.items()))
        for k, v in res.items():
            runner.message_hub.update_scalar(k, v)
        runner.visualizer.add_scalars(res, step=step)
        self.history.append(dict(res, step=step))
        return res

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and self.every_n_epochs(runner, self.interval):
            self.evaluate(runner)

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        if not self.by_epoch and self.every_n_train_iters(
                runner, self.interval):
            self.evaluate(runner)
