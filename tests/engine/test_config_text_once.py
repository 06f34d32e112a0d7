"""``AVRunner`` yapf-formats its config once per content
(:class:`mmavcl.engine.runner.FormatOnceConfig`): mmengine asks for
``cfg.pretty_text`` in the environment log, the dumped config,
``RuntimeInfoHook`` and every checkpoint's ``meta``."""
import glob
import os.path as osp

import mmengine.config.config as mmengine_config
import torch
from engine_toys import build_runner, toy_cfg
from mmengine.config import Config


def test_runner_formats_its_config_once_per_content(tmp_path, monkeypatch):
    formatted = []
    real_format = mmengine_config.FormatCode

    def counting_format(text, *args, **kwargs):
        formatted.append(text)
        return real_format(text, *args, **kwargs)

    monkeypatch.setattr(mmengine_config, 'FormatCode', counting_format)
    cfg = toy_cfg(str(tmp_path), max_epochs=2, n=8, ckpt_interval=1,
                  ckpt_by_epoch=True)
    runner = build_runner(cfg)
    runner.train()
    # log, dump, RuntimeInfoHook, 2 checkpoints: one formatting
    assert len(formatted) == 1

    text = runner.cfg.pretty_text
    with open(glob.glob(osp.join(str(tmp_path), '*.py'))[0]) as f:
        assert f.read() == text
    ckpt = torch.load(osp.join(str(tmp_path), 'epoch_2.pth'),
                      weights_only=False)
    assert ckpt['meta']['cfg'] == text
    # the same text mmengine's own Config gives
    monkeypatch.setattr(mmengine_config, 'FormatCode', real_format)
    assert Config(runner.cfg.to_dict()).pretty_text == text

    # a changed config is formatted again
    monkeypatch.setattr(mmengine_config, 'FormatCode', counting_format)
    runner.cfg.model.queue_note = 'changed'
    assert "queue_note='changed'" in runner.cfg.pretty_text
    assert len(formatted) == 2
    assert runner.cfg.pretty_text.count("queue_note='changed'") == 1
    assert len(formatted) == 2
