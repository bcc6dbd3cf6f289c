"""`avatarforge bulk`: faces for many seeds as a Ray Data job, the same files `generate` writes.

    seeds not yet on disk -> ray.data blocks of --batch-size seeds
      -> map_batches(FaceWriter, actor pool of --workers): one model and backend per actor,
         one GPU per actor where the cluster has GPUs, else --threads CPU threads per actor
      -> each actor writes seedNNNNNN.dna and seedNNNNNN.<ext> (server/bulk_worker.py) into a
         folder or any fsspec URL (server/bulk_output.py)
      -> the driver counts the seeds coming back (progress bar)

Resuming: a seed whose image and DNA are both on disk is skipped, here and again by the actor
(a retried batch). Fault tolerance is Ray's: an actor that dies is restarted and its batch
retried; each file appears whole (a rename, or one put on an object store), so a death never
leaves half a file. Ray is the optional `[ray]` extra and is imported only when this command runs.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace

from avatarforge.commands.generate import parse_seeds

DESCRIPTION = """Render faces for seeds with a Ray Data job: on a running Ray cluster (--ray ADDRESS)
or on a local Ray started for this run. Writes the same files as `avatarforge generate`
(seedNNNNNN.<ext> and seedNNNNNN.dna) and skips seeds already on disk. Needs the [ray] extra.

examples:
  avatarforge bulk --model avatars64 --seeds 0-9999 --out out/npcs --workers 2
  avatarforge bulk --ray auto --model /models/avatars64 --seeds 0-999999 --out /shared/npcs --format webp
  avatarforge bulk --ray auto --model /models/avatars64 --seeds 0-999999 --out s3://studio-npcs/v3  # needs s3fs"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--ray", metavar="ADDRESS", nargs="?", const="auto", default=None,
      help="join a running Ray cluster: --ray alone finds it ('auto'), or give its address (host:6379, "
      "ray://host:10001); without --ray a local Ray is started for this run")
    a("--model", default="avatars128", help="bundle name or path, readable by every worker (default avatars128)")
    a("--model-dir", default=None, help="folder of bundles the model name is looked up in")
    a("--seeds", required=True, type=parse_seeds, help="seeds: ranges and comma lists, e.g. 0-999 or 1,5,10-20")
    a("--out", required=True, help="output folder every worker sees, or an fsspec URL (file://, s3://, gs://, "
      "abfs://, ...; its fsspec package and credentials on every worker); created if missing")
    a("--format", default="png", choices=["png", "jpeg", "webp", "raw", "raw_bgra"], help="image format (default png)")
    a("--size", type=int, default=0, help="image edge in pixels (default: the model's native resolution)")
    a("--quality", type=int, default=0, help="JPEG/WebP quality 1-100 (default: the server's)")
    a("--psi", type=float, default=None, help="truncation psi (default: the model's)")
    a("--backend", default="auto", help="backend per worker, as `serve --backend` (default auto); "
      "byte-identical files with a server need the same backend")
    a("--workers", type=int, default=1, help="actors, each holding one backend (default 1)")
    a("--threads", type=int, default=1, help="CPU threads per actor when there is no GPU (default 1)")
    # Synthesis on CPU is not bit-identical across batch sizes (README "Determinism": at most one
    # intensity level apart); the server's default max_batch makes the images match it to the byte.
    a("--batch-size", type=int, default=16, help="seeds per backend call and per retry after a failure; "
      "images match a server's byte for byte when this is its --max-batch (default 16, the server's default)")
    a("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    try:
        import ray
    except ImportError:
        print("avatarforge bulk needs Ray: pip install 'avatarforge[ray]'", file=sys.stderr)
        return 2
    from .bulk_output import FaceStore, output_url
    from .bulk_worker import BulkJob

    if args.workers < 1 or args.threads < 1 or args.batch_size < 1:
        print("avatarforge bulk: --workers, --threads and --batch-size must be at least 1", file=sys.stderr)
        return 2
    try:
        url = output_url(args.out)
        store = FaceStore(url)
        store.makedirs()
        on_disk = store.complete(args.seeds, args.format)
    except (ValueError, ImportError, OSError) as e:  # memory://, a missing s3fs, no such bucket, no access
        print(f"avatarforge bulk: --out {args.out}: {e}", file=sys.stderr)
        return 2
    other = _other_model(store, on_disk, args.model, args.model_dir)
    if other:
        print(f"avatarforge bulk: --out {args.out} holds faces another model drew ({other}); "
              "write to another folder, or delete them to draw these seeds with this model", file=sys.stderr)
        return 2
    todo = [s for s in args.seeds if s not in on_disk]
    job = BulkJob(model=str(args.model), out=url, format=args.format, size=args.size,
                  quality=args.quality, psi=args.psi, backend=args.backend, threads=args.threads,
                  batch_size=args.batch_size, model_dir=args.model_dir)
    written, seconds, failure = 0, 0.0, None
    started_here = bool(todo) and not ray.is_initialized()
    if started_here:
        if args.ray:
            ray.init(address=args.ray, log_to_driver=False, logging_level=logging.WARNING)
        else:
            start_local_ray(ray, args.workers * args.threads)
    try:
        t0 = time.perf_counter()
        if todo:
            written = _run_job(ray, args, todo, job)
        seconds = time.perf_counter() - t0
    except Exception as e:  # a worker that cannot start (bad model, backend) fails the job: say so briefly
        failure = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
    finally:
        if started_here:
            ray.shutdown()
    # An actor killed between writing a temporary file and renaming it leaves that file behind;
    # its seed was redone by the retry, so once the job is over every such file is garbage.
    store.remove_leftovers()
    missing = len(args.seeds) - len(store.complete(args.seeds, args.format))
    rate = f" in {seconds:.1f} s ({written / seconds:.1f} faces/s, worker start-up included)" if written else ""
    print(f"{written} generated, {len(on_disk)} already on disk, {missing} missing{rate}")
    if failure:
        print(f"avatarforge bulk: the job failed: {failure}", file=sys.stderr)
        return 2
    return 1 if missing else 0


def _other_model(store, on_disk: set[int], model: str, model_dir: str | None) -> str:
    """Which face on disk another model drew, or "" when none seems to be. Resuming goes by the
    folder's listing (a million seeds, one read), so the DNAs of the first and last seed on
    disk stand for the folder: a folder is filled by one model, and `generate` or a finished
    bulk job of another would have left both ends to that one."""
    from avatarforge.models.bundle import BundleError, generator_sha256, read_manifest, resolve_bundle_path

    if not on_disk:
        return ""
    try:
        ours = generator_sha256(read_manifest(resolve_bundle_path(model, model_dir)))
    except (BundleError, KeyError, OSError):
        return ""  # the workers will say what is wrong with the model
    for seed in (min(on_disk), max(on_disk)):
        drawn = store.drawn_by(seed)
        if drawn and drawn != ours:
            return f"seed {seed}'s DNA names generator {drawn[:12]}, this model's is {ours[:12]}"
    return ""


def start_local_ray(ray, num_cpus: int, tries: int = 2) -> None:
    """A Ray of our own ("local") even where another cluster runs on this machine (a bare init
    would join it), with exactly the CPUs the actors ask for. Ray gives its raylet a fixed 30 s
    to register; on a small machine busy with other work that can pass, and a second start
    usually succeeds, so a startup timeout is retried once before it fails the job."""
    for attempt in range(tries):
        try:
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
            return
        except Exception as e:  # Ray raises a bare Exception for this
            if "timed out during startup" not in str(e) or attempt == tries - 1:
                raise
            ray.shutdown()


def _run_job(ray, args: argparse.Namespace, todo: list[int], job) -> int:
    """Run the Ray Data job over `todo`; returns how many faces were written (not skipped)."""
    import numpy as np
    import pyarrow as pa
    from tqdm import tqdm

    from .bulk_worker import FaceWriter

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # one bar, ours, counting faces rather than blocks
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # its per-dataset INFO lines would cut through the bar
    gpus = ray.cluster_resources().get("GPU", 0) > 0
    device = {"num_gpus": 1} if gpus else {"num_cpus": args.threads}
    job = replace(job, device="cuda", threads=None) if gpus else replace(job, device="cpu")
    # One block per batch: the unit of scheduling and of retry after an actor dies.
    blocks = [pa.table({"seed": np.asarray(todo[i:i + args.batch_size], np.int64)})
              for i in range(0, len(todo), args.batch_size)]
    ds = ray.data.from_arrow(blocks).map_batches(
        FaceWriter, fn_constructor_args=(job,), batch_size=args.batch_size, batch_format="numpy",
        # Ray Data's actor pools restart a dead actor and retry the batch it held (max_restarts and
        # max_task_retries default to -1 there); the actor then skips the seeds already written.
        compute=ray.data.ActorPoolStrategy(size=min(args.workers, len(blocks))), **device)
    written = 0
    with tqdm(total=len(args.seeds), initial=len(args.seeds) - len(todo), unit="face", disable=args.no_progress,
              desc=f"bulk -> {args.out}") as bar:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            written += int(batch["written"].sum())
            bar.update(len(batch["seed"]))
    return written
