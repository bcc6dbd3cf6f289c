"""A loaded model and the latent pipeline in front of its backend.

    seeds -> z (zs_from_seeds: latents' one RNG stream per seed)      float32 [N, z_dim]
          -> w (backend.map, on the batcher's worker thread)          float32 [N, w_dim]
          -> W+ (latents.broadcast) -> truncate toward w_avg (psi)    float32 [N, num_ws, w_dim]
          -> images (MicroBatcher.synthesize -> backend.synthesize)   uint8 [N, H, W, 3]

No gRPC here: the same runtime serves any front door (gRPC, HTTP, a Ray actor).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from avatarforge.models import latents
from avatarforge.models.alignment import Framing
from avatarforge.models.attribute_classifier import load_bundle_classifier
from avatarforge.models.bundle import DEFAULT_MODEL, Bundle, BundleError, load_bundle, resolve_bundle_path
from avatarforge.models.directions import Direction, load_directions, w_statistics
from avatarforge.models.encoder import load_bundle_encoder
from avatarforge.models.part_setting import PartVocabulary, vocabulary
from avatarforge.server.backends.precision_gate import create_serving_backend

from .dna import ModelIdentity
from .errors import ModelNotFound
from .render_priority import lower_priority_of_new_threads
from .scheduler import SMALL_BATCH_ROWS, BatchTiming, MicroBatcher, Priority

log = logging.getLogger(__name__)

MIN_SIZE = 16  # smallest output edge offered, unless the model itself is smaller
MAX_UPSCALE = 4  # largest output edge = 4x native (two doublings)
SEFA_COMPONENTS = 10  # unsupervised directions sefa/0..9 offered beside the bundle's supervised ones
# --max-render-wait-ms auto: this many small batches' time (a few players' rows, measured at
# load), never under the floor, below which a backlog is scheduling noise rather than overload
AUTO_BOUND_BATCHES = 2.0
AUTO_BOUND_FLOOR_S = 0.02


def supported_sizes(resolution: int) -> list[int]:
    """The native resolution and its power-of-two down- and upscales."""
    sizes = [resolution]
    s = resolution // 2
    while s >= MIN_SIZE:
        sizes.insert(0, s)
        s //= 2
    s = resolution * 2
    while s <= resolution * MAX_UPSCALE:
        sizes.append(s)
        s *= 2
    return sizes


@dataclass
class ModelRuntime:
    bundle: Bundle
    backend: object  # a server.backends.base.Backend
    batcher: MicroBatcher
    # Edit directions by name (supervised from the bundle, then sefa/0..k-1) and the per-dimension
    # std of W (float32 [w_dim], the unit of Mutate). Computed once at load: SeFa and the W
    # statistics run the generator, which must never happen on the event loop per request.
    directions: dict[str, Direction] = field(default_factory=dict)
    w_std: torch.Tensor | None = None
    default_psi: float = 1.0  # truncation for seeds when a request sets none (GetModel reports it)
    # Encode: the bundle's encoder (None: the model cannot encode), its attribute classifier
    # (None: no attribute agreement), and where its training renders put the avatar (None: no
    # alignment). Loaded once at start, like the directions.
    encoder: object | None = None  # models.encoder.Encoder
    classifier: object | None = None  # models.attribute_classifier.AttributeClassifier
    framing: Framing | None = None
    # Named parts (GetParts, set_parts): a parts mapping named by the classifier's heads, or None.
    parts: PartVocabulary | None = None

    @property
    def identity(self) -> ModelIdentity:
        cfg = self.bundle.config
        return ModelIdentity(self.bundle.name, self.bundle.version, self.bundle.generator_sha256, cfg.num_ws, cfg.w_dim)

    @property
    def resolution(self) -> int:
        return self.bundle.config.resolution

    @property
    def sizes(self) -> list[int]:
        return supported_sizes(self.resolution)

    @property
    def w_avg(self) -> torch.Tensor:  # float32 [w_dim]
        return self.bundle.generator.mapping.w_avg.detach().cpu().float()

    async def ws_from_seeds(self, seeds: list[int], psi: float) -> np.ndarray:
        """Seeds (each in [0, 2^32-1]) -> truncated W+ codes, float32 [N, num_ws, w_dim]."""
        cfg = self.bundle.config
        z = latents.zs_from_seeds(seeds, cfg.z_dim)
        w = await self.batcher.map(z)
        ws = latents.broadcast(torch.from_numpy(w), cfg.num_ws)
        return latents.truncate(ws, self.w_avg, psi).numpy()

    async def render_seeds(self, seeds: list[int], psi: float, priority: Priority) -> tuple[np.ndarray, np.ndarray, BatchTiming]:
        """Seeds -> (uint8 [N, H, W, 3], truncated W+ float32 [N, num_ws, w_dim], timing), mapped
        inside the batch's backend call (scheduler.synthesize_seeds): the same W+ as ws_from_seeds."""
        cfg, w_avg = self.bundle.config, self.w_avg

        def to_ws(w: np.ndarray) -> np.ndarray:
            return latents.truncate(latents.broadcast(torch.from_numpy(w), cfg.num_ws), w_avg, psi).numpy()

        return await self.batcher.synthesize_seeds(latents.zs_from_seeds(seeds, cfg.z_dim), to_ws, priority)

    async def render(self, ws: np.ndarray, priority: Priority) -> tuple[np.ndarray, BatchTiming]:
        """W+ float32 [N, num_ws, w_dim] -> uint8 [N, H, W, 3] at the native resolution."""
        return await self.batcher.synthesize(ws, priority)


class ModelRegistry:
    """The models this server has loaded, by bundle name; the first is the default."""

    def __init__(self, runtimes: list[ModelRuntime], metrics=None):
        if not runtimes:
            raise ValueError("a server needs at least one model")
        self.metrics = metrics  # server.metrics.ServingMetrics shared by every batcher, or None
        self.runtimes = {rt.bundle.name: rt for rt in runtimes}
        self.default_name = runtimes[0].bundle.name

    def get(self, name: str) -> ModelRuntime:
        rt = self.runtimes.get(name or self.default_name)
        if rt is None:
            raise ModelNotFound(f"unknown model {name!r}; this server has {', '.join(sorted(self.runtimes))}")
        return rt

    def render_wait(self, name: str, rows: int) -> tuple[float, float]:
        """(seconds until a new interactive render of `rows` rows on model `name` would be back,
        counted only while interactive rows are queued (MicroBatcher.render_wait_s); the bound
        the admission rule holds it to, 0 = none). (0, 0) for a model this server lacks: the call
        then fails with NOT_FOUND in the service."""
        rt = self.runtimes.get(name or self.default_name)
        return (0.0, 0.0) if rt is None else (rt.batcher.render_wait_s(rows), rt.batcher.render_bound_s)

    async def close(self) -> None:
        for rt in self.runtimes.values():
            await rt.batcher.close()


def load_models(config) -> ModelRegistry:
    """Load every bundle named in config.model (BundleError names the bad path or file)."""
    metrics = _create_metrics(required=bool(config.metrics_port))
    runtimes = []
    for name in config.models:
        try:
            bundle = load_bundle(name, config.model_dir or None)
        except BundleError as e:
            if name == DEFAULT_MODEL and not resolve_bundle_path(name, config.model_dir or None).exists():
                raise BundleError(f"{e}. The default model {DEFAULT_MODEL!r} is not installed yet: train or copy "
                                  "it there, or pass --model PATH to a bundle folder") from e
            raise
        with lower_priority_of_new_threads(config.render_nice):  # the backend's thread pools
            backend = create_serving_backend(config.backend, bundle, config.precision, device=config.device,
                                             threads=config.backend_threads, max_batch=config.max_batch)
            backend.precision_mode = config.precision
            log.info("loaded model %s v%s from %s (%d px, backend %s)", bundle.name, bundle.version, bundle.path,
                     bundle.config.resolution, backend.describe())
            batcher = MicroBatcher(backend, config.max_batch, bundle.name, max_delay_s=config.max_delay_ms / 1e3,
                                   max_queued_rows=config.max_queued_rows, metrics=metrics, bulk_share=config.bulk_share,
                                   bulk_rows_when_interactive=config.bulk_rows_when_interactive or None,
                                   render_nice=config.render_nice)
            batcher.render_bound_s = render_bound_s(config.render_bound_s, batcher, bundle)
        directions = load_directions(bundle, sefa_k=SEFA_COMPONENTS)
        _, w_std = w_statistics(bundle.generator)
        psi = bundle.default_truncation_psi if config.default_psi is None else config.default_psi
        classifier = load_bundle_classifier(bundle)
        runtimes.append(ModelRuntime(bundle, backend, batcher, directions, w_std, psi, encoder=load_bundle_encoder(bundle),
                                     classifier=classifier, framing=Framing.from_manifest(bundle.manifest),
                                     parts=vocabulary(bundle.generator.mapping, classifier.vocab if classifier else None)))
    return ModelRegistry(runtimes, metrics)


def render_bound_s(configured_s: float | None, batcher: MicroBatcher, bundle) -> float:
    """The admission bound on an interactive render's return (--max-render-wait-ms): as
    configured, or for auto (None) AUTO_BOUND_BATCHES x this backend's time for a batch of a few
    players' rows, at least AUTO_BOUND_FLOOR_S. Relative to the backend, because what a player
    calls slow is relative to what they get when the server is not overloaded: a fixed bound
    lets a fast GPU backend queue many times its unloaded latency, and refuses work a slow CPU
    could still do in reasonable time."""
    if configured_s is not None:
        return configured_s
    w_avg = bundle.generator.mapping.w_avg.detach().cpu().numpy().astype(np.float32)
    small = batcher.time_small_batch(np.repeat(w_avg[None], bundle.generator.num_ws, axis=0))
    bound = max(AUTO_BOUND_FLOOR_S, AUTO_BOUND_BATCHES * small)
    log.info("admission: interactive renders on %s are refused past %.0f ms of backlog (auto: %g x %.1f ms, "
             "its backend's time for %d rows)", bundle.name, bound * 1e3, AUTO_BOUND_BATCHES, small * 1e3,
             SMALL_BATCH_ROWS)
    return bound


def _create_metrics(required: bool):
    """ServingMetrics, or None where prometheus-client (the optional `metrics` extra) is missing
    and no --metrics-port asked for it."""
    try:
        from .serving_metrics import ServingMetrics
    except ImportError as e:
        if required:
            raise RuntimeError(f"--metrics-port needs prometheus-client (pip install 'avatarforge[metrics]'): {e}") from e
        return None
    return ServingMetrics()
