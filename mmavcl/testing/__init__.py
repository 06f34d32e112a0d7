"""Helpers for tests: real media files written with PyAV (no mocks) and
ports for real multi-process runs."""
from .dist import free_port, run_ranks, run_script_ranks
from .media import (CHIRP_F0, CHIRP_RATE, TIMESTAMP_BITS, chirp,
                    chirp_time_errors, cut_mpegts, decode_audio_views,
                    decode_chirp_time, decode_sequentially,
                    decode_frame_index, divx_packed_copy, faststart_copy,
                    make_audio_file, make_av_video, make_av_videos,
                    mp4_edit_list, mpegts_packet_size, not_coded_vop,
                    replace_video_packet,
                    set_mp4_edit_list,
                    timestamp_frames, truncate_file, write_audio,
                    write_garbage, write_vfr_video, write_video)
from .scripts import (REPO_ROOT, last_logged_metrics, load_script,
                      make_toy_data)
from .servers import (failing_uploads, s3_client_env, serve_directory,
                      serve_moto, serve_s3, serve_s3_to_env)
from .shards import (add_tar_member, decode_sample_ids, write_id_shards,
                     write_shards)

__all__ = [
    'TIMESTAMP_BITS', 'CHIRP_F0', 'CHIRP_RATE', 'write_video', 'write_audio',
    'make_av_video', 'make_av_videos', 'make_audio_file',
    'timestamp_frames', 'chirp', 'decode_frame_index', 'decode_chirp_time',
    'chirp_time_errors', 'decode_sequentially', 'truncate_file', 'cut_mpegts',
    'mpegts_packet_size', 'write_garbage',
    'replace_video_packet', 'not_coded_vop', 'divx_packed_copy', 'faststart_copy', 'mp4_edit_list',
    'set_mp4_edit_list', 'write_vfr_video', 'decode_audio_views',
    'free_port', 'run_ranks', 'run_script_ranks', 'serve_directory',
    'serve_s3', 'serve_s3_to_env', 'serve_moto', 'failing_uploads',
    's3_client_env',
    'REPO_ROOT', 'load_script', 'last_logged_metrics', 'make_toy_data',
    'add_tar_member', 'write_shards', 'write_id_shards', 'decode_sample_ids'
]
