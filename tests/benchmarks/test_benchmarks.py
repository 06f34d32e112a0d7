"""The benchmark scripts run end to end on tiny real media and print their
ratio lines (speed is not asserted: that is what the scripts are for)."""
import os.path as osp
import re
import sys

import numpy as np
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))
import benchmark_augment  # noqa: E402
import benchmark_collate  # noqa: E402
import benchmark_layout  # noqa: E402
import benchmark_memory  # noqa: E402
import benchmark_audio  # noqa: E402
import benchmark_check_dataset  # noqa: E402
import benchmark_decode_threads  # noqa: E402
import benchmark_pipeline  # noqa: E402
import benchmark_shards  # noqa: E402
import benchmark_train  # noqa: E402

RATIO = r': \d+\.\d+x$'
TINY = ['--num-videos', '1', '--iters', '2', '--workers', '1', '--rounds',
        '1', '--keyints', '8', '--duration', '1.5', '--size', '64x48',
        '--fps', '16']


def test_frames_decoded_counts_from_keyframe():
    keys = np.array([0, 30, 60])
    # 35..40: seek to keyframe 30, decode 30..40
    assert benchmark_pipeline.frames_decoded(range(35, 41), keys) == 11
    # 35, 70: 30..35, then keyframe 60 lies past 35 -> seek: 60..70
    assert benchmark_pipeline.frames_decoded([35, 70], keys) == 6 + 11
    # 5, 20: same GOP, keep decoding: 0..20
    assert benchmark_pipeline.frames_decoded([20, 5], keys) == 21
    # unsorted (one MMAction2 pass over two clips): 40 then 10 seeks back
    assert benchmark_pipeline.frames_decoded([40, 10], keys,
                                             sort=False) == 11 + 11


def test_keyframes_by_pyav_demux_match_decord(tmp_path):
    """The benchmark counts decoded frames from PyAV's packet flags (no
    decord needed); decord's own key indices are the reference."""
    decord = pytest.importorskip('decord')
    files = benchmark_pipeline.make_videos(str(tmp_path), 1, 5, 2.0,
                                           (64, 48), 16.0)
    got = benchmark_pipeline.keyframes(files[0])
    want = np.asarray(decord.VideoReader(files[0]).get_key_indices())
    assert len(got) >= 3 and np.array_equal(got, want)


def test_pipeline_benchmark_prints_every_ratio(capsys):
    pytest.importorskip('mmaction', reason='the MMAction2 lines need the '
                        'mmaction2 extra (its absence: next test)')
    rows = benchmark_pipeline.main(TINY)
    out = capsys.readouterr().out
    assert 'ColorJitter' in out  # the numpy-2 caveat is stated
    for name in benchmark_pipeline.DEFAULT_PIPELINES:
        for workers in (0, 1):
            prefix = re.escape(f'{name} (keyint 8, {workers} workers) vs ')
            assert re.search('^' + prefix + 'decode floor' + RATIO, out,
                             re.M), (name, workers, out)
            assert re.search('^' + prefix + r'mmaction2 \(pass/view\)' +
                             RATIO, out, re.M), (name, workers, out)
            # the floor that also decodes the audio, for audio pipelines only
            has_audio = benchmark_pipeline._find(
                benchmark_pipeline._load_pipeline(name), 'DecodeAudioViews')
            assert bool(re.search('^' + prefix + r'decode floor \+ audio' +
                                  RATIO, out, re.M)) == bool(has_audio), (
                                      name, workers, out)
    assert re.search(r'ssl_2clip_av .* vs mmaction2 \(1 pass\)' + RATIO, out,
                     re.M)
    assert all(r['ratio'] > 0 and r['mmavcl_frames'] > 0 for r in rows)
    assert '| pipeline | keyint |' in out


def test_pipeline_benchmark_skips_mmaction_cleanly(capsys, monkeypatch):
    # an interpreter where `import mmaction` fails
    for mod in [m for m in sys.modules if m.startswith('mmaction')]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, 'mmaction', None)
    benchmark_pipeline.main(TINY[:5] + ['0'] + TINY[6:] +
                            ['--pipelines', 'vclr_segments'])
    out = capsys.readouterr().out
    skips = [ln for ln in out.splitlines() if ln.startswith('skipping')]
    assert skips == ['skipping the MMAction2 comparisons: mmaction2 is not '
                     'installed']
    assert re.search(r'^vclr_segments \(keyint 8, 0 workers\) vs decode '
                     r'floor' + RATIO, out, re.M)
    assert 'vs mmaction2' not in out


def test_pipeline_benchmark_reads_wav_sidecars(capsys, tmp_path):
    """--audio-source sidecar: the audio comes from WAVs extracted by
    tools/data/extract_audio.py; video-only pipelines are unchanged."""
    benchmark_pipeline.main(TINY[:5] + ['0'] + TINY[6:] + [
        '--no-mmaction', '--audio-source', 'sidecar', '--pipelines',
        'avtss_pairs', 'vclr_segments', '--video-dir', str(tmp_path)])
    out = capsys.readouterr().out
    for ref in ('decode floor', r'decode floor \+ audio'):
        assert re.search(r'^avtss_pairs \(wav sidecar\) \(keyint 8, 0 '
                         r'workers\) vs ' + ref + RATIO, out, re.M), out
    assert re.search(r'^vclr_segments \(keyint 8, 0 workers\) vs decode '
                     r'floor' + RATIO, out, re.M), out
    # what the mmavcl side read
    files = sorted(str(p) for p in tmp_path.glob('*.mp4'))
    audio_dir = benchmark_pipeline.extract_sidecars(
        files, str(tmp_path / 'wav'), workers=1)
    pipeline = benchmark_pipeline._load_pipeline('avtss_pairs')
    plan = benchmark_pipeline.make_plan(pipeline, files, 1, 0, audio_dir)
    mm = benchmark_pipeline.MMAVCLSet(pipeline, files, 1, 0,
                                      str(tmp_path / 'w'), audio_dir)
    benchmark_pipeline.check_plan(mm, plan)
    sample = mm[0]['data_samples']
    assert sample.audio_filename == plan[0]['audio_filename']
    assert sample.audio_filename.startswith(audio_dir)
    assert sample.audio_filename.endswith('.wav')


def test_audio_benchmark_prints_wav_reader_ratio(capsys, tmp_path):
    ratios = benchmark_audio.main(['--num-files', '1', '--iters', '2',
                                   '--rounds', '1', '--duration', '2.5',
                                   '--file-dir', str(tmp_path)])
    out = capsys.readouterr().out
    for split in ('train', 'test'):
        assert re.search(rf'^bench_esc50 {split} pipeline wav reader vs '
                         r'pyav' + RATIO, out, re.M), out
    assert set(ratios) == {'train', 'test'}
    # the reference really went through FFmpeg, the candidate did not
    from mmavcl.datasets.media import open_pcm_wav
    wav, = tmp_path.glob('*.wav')
    riff, = tmp_path.glob('*.riff')
    reader = open_pcm_wav(str(wav))
    assert reader is not None and open_pcm_wav(str(riff)) is None
    reader.close()


def test_train_benchmark_prints_overhead_and_loader_ratio(capsys, tmp_path):
    sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
    try:
        from make_toy_dataset import make_toy_dataset
    finally:
        sys.path.pop(0)
    make_toy_dataset(str(tmp_path), num_per_class=2, duration=2.0,
                     workers=1)
    out = benchmark_train.main([
        '--data-root', str(tmp_path), '--iters', '2', '--warmup', '1',
        '--rounds', '1', '--loader-workers', '1', '--loader-batches', '1',
        '--threads', '1', '--batch-size', '4',  # = the 4 training videos
        '--data-bound-iters', '2', '--profile', '1'
    ])
    text = capsys.readouterr().out
    assert re.search(r'^runner vs plain loop: \d+\.\d+x$', text, re.M), text
    assert re.search(r'^data loader vs training step: \d+\.\d+x$', text,
                     re.M), text
    assert re.search(r'^compute busy: \d+\.\d%', text, re.M), text
    assert re.search(r'^waiting for the next batch: \d+\.\d ms of '
                     r'\d+\.\d ms per iteration', text, re.M), text
    assert out['plain_its'] > 0 and out['runner_its'] > 0
    assert out['data_bound_its'] > 0
    assert 0 <= out['data_wait_ms'] < 1e3 / out['data_bound_its']
    # the phases are inside the step and make up most of it
    prof = out['profile_ms']
    phases = [prof[k] for k in benchmark_train.PHASES]
    assert all(p > 0 for p in phases), prof
    assert 0.5 * prof['step'] < sum(phases) <= 1.05 * prof['step'], prof
    assert re.search(r'^profile of 1 plain-loop steps \(fp32\)', text, re.M)


def test_train_profile_reports_augmentation_share_and_layout(capsys):
    """``--profile``'s lines for issue 25's GPU check, on the CPU: the MoCo
    toy model with the K400 configs' augmentation (batched), the default
    and the channels-last layout, a generated batch of 2 x 2 clips."""
    from mmengine.config import Config

    from mmavcl.engine import convert_to_channels_last
    from mmavcl.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT,
                                   'configs/baselines/moco_r3d-18_toy.py'))
    k400 = Config.fromfile(osp.join(
        ROOT, 'configs/baselines/moco_r3d-18_8xb32-16x2x2-200e_k400.py'))
    cfg.model.data_preprocessor = k400.model.data_preprocessor
    assert cfg.model.data_preprocessor.video_aug_impl == 'batched'
    gen = torch.Generator().manual_seed(0)
    clip = torch.randint(0, 256, (3, 4, 32, 32), dtype=torch.uint8,
                         generator=gen)
    batch = {'inputs': {'video': [[clip, clip.flip(-1)]] * 2}}
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        if channels_last:
            convert_to_channels_last(model)
        prof = benchmark_train.profile_plain_step(model, batch, cfg, 1,
                                                  torch.device('cpu'),
                                                  'fp32')
        text = capsys.readouterr().out
        assert 0 < prof['augment'] < prof['preprocess'], prof
        share = re.search(r'^video augmentation \(BatchedVideoAug\): '
                          r'(\d+\.\d) ms per step, (\d+\.\d)% of the step',
                          text, re.M)
        assert share, text
        assert float(share.group(2)) == pytest.approx(
            100 * prof['augment'] / prof['step'], abs=0.051)
        # on the CPU no kernel carries a layout name; on CUDA cuDNN's do
        assert re.search(r'^layout kernels \(nchw\|nhwc\|ncdhw\|ndhwc\): '
                         r'\d+\.\d ms per step', text, re.M), text
        assert prof['layout'] >= 0


def test_train_benchmark_reads_wav_sidecars(capsys, tmp_path):
    """--audio-source sidecar: the training set's audio is extracted with
    tools/data/extract_audio.py and the dataset reads those WAVs."""
    demo = osp.join(ROOT, 'configs/demo/avc_r3d-10_1xb16-8x2x1-50e_toy.py')
    cfg = benchmark_train.prepare_cfg(demo, None, 4, str(tmp_path))
    benchmark_train.use_wav_sidecars(cfg, str(tmp_path / 'wav'), workers=1)
    from mmavcl.registry import DATASETS
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    wav = ds.get_data_info(0)['audio_filename']
    assert wav.startswith(str(tmp_path / 'wav')) and wav.endswith('.wav')
    sample = ds[0]
    assert sample['data_samples'].audio_filename == wav
    assert all(a.abs().max() > 0 for a in sample['inputs']['audio'])
    out = benchmark_train.main([
        demo, '--iters', '1', '--warmup', '1', '--rounds', '1',
        '--loader-workers', '1', '--loader-batches', '1', '--threads', '1',
        '--batch-size', '4', '--audio-source', 'sidecar'
    ])
    text = capsys.readouterr().out
    assert re.search(r'^data loader vs training step: \d+\.\d+x$', text,
                     re.M), text
    assert out['loader_samples_s'] > 0


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason='needs a CUDA device (make test-gpu)')
def test_train_benchmark_on_cuda_with_generated_videos(capsys):
    """The GPU measurement of docs/benchmarks.md, a few iterations of it."""
    out = benchmark_train.main([
        osp.join(ROOT, 'configs/baselines/'
                 'moco_r3d-18_8xb32-16x2x2-200e_k400.py'),
        '--device', 'cuda', '--precision', 'bf16', '--videos', '2',
        '--batch-size', '4', '--iters', '2', '--warmup', '1', '--rounds',
        '1', '--loader-workers', '2', '--loader-batches', '1',
        '--data-bound-iters', '3', '--profile', '2'
    ])
    text = capsys.readouterr().out
    assert re.search(r'^runner vs plain loop: \d+\.\d+x$', text, re.M), text
    assert re.search(r'^GPU busy: \d+\.\d%', text, re.M), text
    assert out['clips'] == 2 and out['data_bound_its'] > 0
    # device time of every phase was recorded, backward's too (autograd
    # launches it from its own thread), and they make up most of the step
    prof = out['profile_ms']
    phases = [prof[k] for k in benchmark_train.PHASES]
    assert all(p > 0 for p in phases), prof
    assert prof['backward'] > 0.2 * prof['forward'], prof
    assert 0.5 * prof['step'] < sum(phases) <= 1.05 * prof['step'], prof
    # issue 25's numbers: the augmentation inside the preprocess phase, and
    # the layout kernels line (cuDNN's conversions, by name)
    assert 0 < prof['augment'] < prof['preprocess'], prof
    assert re.search(r'^video augmentation \(BatchedVideoAug\): ', text,
                     re.M), text
    assert re.search(r'^layout kernels .*: \d+\.\d ms per step', text,
                     re.M), text


def test_memory_benchmark_reports_index_and_workers(capsys):
    out = benchmark_memory.main([
        '--index-lines', '20000', '--workers', '1', '--worker-iters', '12',
        '--warmup', '4', '--worker-lines', '1000'
    ])
    text = capsys.readouterr().out
    assert re.search(r'^index: 20,000 lines .* built in [\d.]+ s', text,
                     re.M), text
    assert re.search(r'^worker 0 RSS: \d+ MB .* -> \d+ MB', text, re.M), text
    assert 'index target' in text and 'worker RSS target' in text
    assert 'pyav video reader' in text  # the K400 configs' reader
    assert out['index']['lines'] == 20000
    assert out['index']['peak_increase_mb'] >= 0
    assert set(out['workers']['rss_last']) == {0}


if __name__ == '__main__':
    pytest.main([__file__])


def test_collate_benchmark_prints_its_ratio(capsys):
    out = benchmark_collate.main([
        '--num-samples', '2', '--batch-size', '4', '--workers', '1',
        '--batches', '2', '--rounds', '1', '--wait', '0.3'
    ])
    text = capsys.readouterr().out
    assert re.search(r'^av_collate vs pseudo_collate: \d+\.\d+x$', text,
                     re.M), text
    assert out['pseudo_collate'] > 0 and out['av_collate'] > 0


def test_pipeline_benchmark_with_the_pyav_backend(capsys, tmp_path):
    """--video-backend pyav: the mmavcl pipeline decodes with PyAV (the
    floor stays decord's) and reports the frames PyAV really decoded."""
    rows = benchmark_pipeline.main(TINY[:5] + ['0'] + TINY[6:] + [
        '--no-mmaction', '--video-backend', 'pyav', '--pipelines',
        'ssl_2clip_video', '--video-dir', str(tmp_path)])
    out = capsys.readouterr().out
    assert re.search(r'^ssl_2clip_video \(pyav\) \(keyint 8, 0 workers\) vs '
                     r'decode floor' + RATIO, out, re.M), out
    files = sorted(str(p) for p in tmp_path.glob('*.mp4'))
    pipeline = benchmark_pipeline._load_pipeline('ssl_2clip_video')
    plan = benchmark_pipeline.make_plan(pipeline, files, 2, 0)
    assert rows[0]['mmavcl_frames'] == \
        benchmark_pipeline.pyav_frames_decoded(plan)
    assert 0 < rows[0]['mmavcl_frames'] <= rows[0]['ref_frames'] + 4


def test_decode_timings_split_open_first_frame_and_the_rest(tmp_path):
    """The per-file and per-frame costs --video-hwaccel prints for either
    decoder (here the software one): each part timed on its own."""
    from mmavcl.testing import make_av_video
    path = make_av_video(str(tmp_path / 'v.mp4'), num_frames=24,
                         size=(48, 64), keyint=8)['path']
    t, frame_format = benchmark_pipeline.decode_timings(path, frames=24,
                                                        repeats=2)
    assert sorted(t) == ['first', 'open', 'per_frame']
    assert all(0 < v < 1e3 for v in t.values()), t
    assert frame_format == 'yuv420p'  # FFmpeg's own H.264 decoder


def test_augment_benchmark_prints_its_ratio(capsys):
    pytest.importorskip('kornia')
    out = benchmark_augment.main([
        '--clips', '2', '--frames', '2', '--size', '24', '--iters', '2',
        '--warmup', '1'
    ])
    text = capsys.readouterr().out
    assert re.search(r'^BatchedVideoAug vs kornia: \d+\.\d+x$', text,
                     re.M), text
    assert re.search(r'^BatchedVideoAug vs kornia \(CPU time\): \d+\.\d+x$',
                     text, re.M), text
    assert out['cpu_ratio'] > 0
    assert "video_aug: ['ColorJitter', 'RandomGrayscale', " \
        "'RandomGaussianBlur']" in text
    assert out['BatchedVideoAug'] > 0 and out['kornia'] > 0


def test_layout_benchmark_prints_its_ratios(capsys):
    out = benchmark_layout.main(['--clips', '2', '--frames', '2', '--size',
                                 '16', '--iters', '1', '--warmup', '0'])
    text = capsys.readouterr().out
    for p in ('fp32', 'bf16'):
        assert re.search(rf'^channels_last_3d vs default \({p}\): '
                         rf'\d+\.\d+x$', text, re.M), text
    assert re.search(r'^bf16 vs fp32 \(default\): \d+\.\d+x$', text, re.M)
    assert out['ratio_fp32'] > 0


def test_shards_benchmark_prints_its_ratios_and_worker_rss(capsys):
    out = benchmark_shards.main([
        '--num-videos', '2', '--samples-per-shard', '1', '--iters', '2',
        '--workers', '2', '--rounds', '1', '--duration', '1.5', '--size',
        '64x48', '--fps', '16', '--keyint', '8', '--rss-iters', '6',
        '--rss-warmup', '2'
    ])
    text = capsys.readouterr().out
    for workers in (0, 2):
        for src, ref in (('local shards', 'local files'),
                         ('loopback-S3 shards', 'local shards')):
            assert re.search(rf'^{src} \({workers} workers\) vs {ref}' +
                             RATIO, text, re.M), text
    assert re.search(r'^target local shards >= 1\.0x local files '
                     r'\(2 workers\): (met|MISSED)$', text, re.M), text
    assert re.search(r'^target loopback-S3 shards >= 0\.9x local shards '
                     r'\(2 workers\): (met|MISSED)$', text, re.M), text
    assert '| source | workers | samples/s |' in text
    rss = out['rss']
    assert 0 < rss['start'] <= rss['peak'] and rss['end'] <= rss['peak']
    assert re.search(r'^worker RSS streaming loopback-S3 shards: \d+ MB '
                     r'after 2 samples -> \d+ MB after 6', text, re.M), text
    assert len(out['rows']) == 6 and all(r['rate'] > 0 for r in out['rows'])


def test_check_dataset_benchmark_prints_both_ratios(capsys, tmp_path):
    sec = benchmark_check_dataset.main(
        ['--num-files', '1', '--rounds', '1', '--duration', '1',
         '--size', '64x48', '--fps', '16', '--video-dir', str(tmp_path)])
    out = capsys.readouterr().out
    assert re.search(r'\(16 frames each\)$', out, re.M), out
    for other in ('--decode ends', 'pyav decode'):
        assert re.search(rf'^--decode all vs {other}' + RATIO, out,
                         re.M), out
    assert set(sec) == {'--decode ends', '--decode all', 'pyav decode',
                        'pyav decode + rgb'}
    assert all(s > 0 for s in sec.values())


def test_decode_threads_benchmark_prints_every_ratio(capsys, tmp_path):
    """Each thread setting against one thread, three ways, on two of the
    file kinds; the decoder threads FFmpeg ran are read back."""
    rows = benchmark_decode_threads.main([
        '--kinds', 'mpeg4-bframes-avi', 'h264-mp4', '--threads', '1', '2',
        '--types', 'AUTO', 'SLICE', '--iters', '2', '--workers', '2',
        '--rounds', '1', '--duration', '2.5', '--size', '64x48', '--fps',
        '16', '--keyint', '8', '--video-dir', str(tmp_path)])
    out = capsys.readouterr().out
    for kind in ('mpeg4-bframes-avi', 'h264-mp4'):
        for cand in ('2 AUTO', '2 SLICE'):
            for what in ('latency', 'CPU time', '2 workers'):
                assert re.search(rf'^{kind} {cand} vs 1 thread \({what}\)'
                                 + RATIO, out, re.M), out
    threads = {(r['kind'], r['candidate']): r['decoder_threads']
               for r in rows}
    # MPEG-4 Part 2 has frame threads only: FFmpeg runs one for SLICE
    assert threads == {('mpeg4-bframes-avi', '1 thread'): 1,
                       ('mpeg4-bframes-avi', '2 AUTO'): 2,
                       ('mpeg4-bframes-avi', '2 SLICE'): 1,
                       ('h264-mp4', '1 thread'): 1,
                       ('h264-mp4', '2 AUTO'): 2,
                       ('h264-mp4', '2 SLICE'): 2}
    assert rows[0]['reason'] == 'B-frames in AVI'
    assert all(r['samples_per_s'] > 0 and r['cpu_ms_per_sample'] > 0
               for r in rows)
