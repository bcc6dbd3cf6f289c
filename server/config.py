"""Server configuration: one typed dataclass, filled from defaults, AVATARFORGE_* environment
variables, then command-line flags (flags win).

    AVATARFORGE_ADDRESS=0.0.0.0:50051 AVATARFORGE_MAX_BATCH=32 avatarforge serve --model ./my_bundle
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields

from avatarforge.models.bundle import DEFAULT_MODEL
from avatarforge.server.backends.precision_gate import PRECISION_MODES
from avatarforge.server.transport_security import TlsFiles

BACKENDS = ("auto", "torch", "onnxruntime", "openvino", "tensorrt")
HEALTH_MODES = ("open", "keyed")
REFLECTION_MODES = ("keyed", "open", "off")
ENV_PREFIX = "AVATARFORGE_"
# Where --web opens the web door when --web-address is not given: this machine only; exposing
# the page to a network is a deliberate --web-address.
WEB_PAGE_ADDRESS = "127.0.0.1:8080"


@dataclass
class ServerConfig:
    address: str = "127.0.0.1:50051"  # host:port to listen on; port 0 picks a free port
    # Bundle names (looked up in model_dir, then models/zoo) or bundle paths, comma-separated;
    # the first is the default model of requests that name none.
    model: str = DEFAULT_MODEL
    model_dir: str = ""  # extra folder of bundles, searched before models/zoo
    backend: str = "auto"  # auto | torch | onnxruntime | openvino | tensorrt
    # exact = fp32 everywhere (bit-stable bulk builds); fast = bf16 on CPUs with native bf16
    # (OpenVINO) or fp16 on CUDA, kept only if it passes the start-up gate (precision_gate.py)
    precision: str = "exact"
    device: str = "auto"  # auto | cpu | cuda:N
    # CPU threads of the backend: "auto" = the count whose synthesize measured fastest at start,
    # at batch 1 and max_batch (server/backends/thread_choice.py); N = exactly N; 0 = the library's
    # default (one per physical core)
    threads: str = "auto"
    max_batch: int = 16  # rows per backend call (micro-batch across requests)
    # How long a partial batch may wait for requests already on their way (callers mapping z
    # with MicroBatcher.map before they synthesize); never holds a full batch or a lone request
    # (scheduler.py). Seed-only requests are mapped inside their batch and never wait.
    max_delay_ms: float = 2.0
    max_queued_rows: int = 64  # bulk rows queued per model before GenerateBatch streams wait
    # Scheduling (server/scheduler.py): the share of each batch kept for bulk while bulk waits
    # (never starved), and the rows of a bulk-only batch while interactive users are live (what
    # an arriving preview waits for at worst); 0 = max_batch // 4.
    bulk_share: float = 0.25
    bulk_rows_when_interactive: int = 0
    max_unary_items: int = 16  # characters per Generate call
    max_stream_items: int = 100_000  # items per GenerateBatch call
    max_message_bytes: int = 64 * 1024 * 1024  # a raw 1024² RGBA8 image alone is the 4 MiB default
    # Truncation for seeds when a request sets none; None = each model's own recommendation
    # (its manifest's default_truncation_psi, reported by GetModel).
    default_psi: float | None = None
    encode_workers: int = 2  # threads for image resize/encode
    # Encode (personalisation): pictures per call; pixels one picture may decode to (checked in
    # its header before decoding: the decompression-bomb guard; 16.7 M = 4096 x 4096); the
    # longest refinement a call may ask for, and the budget of one that asks for steps only.
    max_encode_images: int = 3
    max_encode_pixels: int = 4096 * 4096
    max_refine_ms: int = 5000
    default_refine_ms: int = 1000
    grace_s: float = 10.0  # SIGTERM: how long in-flight calls may finish
    log_level: str = "INFO"
    metrics_port: int = 0  # Prometheus /metrics on this HTTP port; 0 = off
    # gRPC-Web (HTTP/1.1) door for browsers, Unity WebGL and Mono clients; "" = off.
    web_address: str = ""
    # Origins a browser page may call the web door from, comma-separated; "*" = any.
    web_cors_origins: str = ""
    # API keys (server/api_keys.py): a keys file made by `avatarforge keys add`; "" = no keys,
    # every caller may call every RPC (the loopback default of `make demo`).
    keys_file: str = ""
    health: str = "open"  # open = health checks need no key (load balancers); keyed = they do
    reflection: str = "keyed"  # keyed = served to any valid key; open = to anyone; off = not served
    # TLS for both doors (server/transport_security.py): PEM files; a client CA makes it mutual TLS.
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    # Calls in flight server-wide before new ones are refused at once (RESOURCE_EXHAUSTED with a
    # retry hint) instead of queueing into timeouts; 0 = no limit.
    max_inflight: int = 256
    # An interactive render (Generate, RenderPreview, Mix, Mutate, GetParts of a DNA) is refused the
    # same way while its model's backend would take longer than this to bring it back (its wait
    # and its own batch; scheduler.py): past it, it would only delay everyone behind it. auto =
    # twice the backend's time for a batch of 4 rows, measured per model at load
    # (model_runtime.render_bound_s); a number of ms; 0 = no bound.
    max_render_wait_ms: str = "auto"
    # How many steps lower (Linux nice) the render threads' CPU priority is than the event loop's,
    # so refusals, health checks and streams are answered at once while rendering saturates the
    # cores (server/render_priority.py); 0 = the same priority.
    render_nice: int = 10
    max_stream_s: float = 0.0  # longest a stream may run, seconds; 0 = no limit
    edit_idle_timeout_s: float = 300.0  # an EditSession with no message for this long ends; 0 = never
    # Serve the browser character creator (server/web_static) on the web door, same origin as
    # its RPCs; opens the door on WEB_PAGE_ADDRESS when web_address is "".
    web: bool = False

    def __post_init__(self) -> None:
        if self.web and not self.web_address:
            self.web_address = WEB_PAGE_ADDRESS
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        for name in ("max_batch", "max_queued_rows", "max_unary_items", "max_stream_items", "max_message_bytes", "encode_workers",
                     "max_encode_images", "max_encode_pixels", "max_refine_ms", "default_refine_ms"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.bulk_share < 1:
            raise ValueError(f"bulk_share must be in [0, 1), got {self.bulk_share}")
        if not 0 <= self.bulk_rows_when_interactive <= self.max_batch:
            raise ValueError(f"bulk_rows_when_interactive must be 0 (auto) .. max_batch ({self.max_batch}), "
                             f"got {self.bulk_rows_when_interactive}")
        if self.max_delay_ms < 0:
            raise ValueError(f"max_delay_ms must be >= 0, got {self.max_delay_ms}")
        if self.precision not in PRECISION_MODES:
            raise ValueError(f"precision must be one of {', '.join(PRECISION_MODES)}, got {self.precision!r}")
        self.threads = str(self.threads).strip().lower()
        if self.threads != "auto" and not (self.threads.isdigit()):
            raise ValueError(f"threads must be auto or a number of threads >= 0, got {self.threads!r}")
        if not 0 <= self.metrics_port <= 65535:
            raise ValueError(f"metrics_port must be in [0, 65535], got {self.metrics_port}")
        if self.default_psi is not None and not 0.0 <= self.default_psi <= 2.0:
            raise ValueError(f"default_psi must be in [0, 2], got {self.default_psi}")
        if self.health not in HEALTH_MODES:
            raise ValueError(f"health must be one of {', '.join(HEALTH_MODES)}, got {self.health!r}")
        if self.reflection not in REFLECTION_MODES:
            raise ValueError(f"reflection must be one of {', '.join(REFLECTION_MODES)}, got {self.reflection!r}")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together: give both (the certificate and its private key)")
        if self.tls_client_ca and not self.tls_cert:
            raise ValueError("tls_client_ca (mutual TLS) needs tls_cert and tls_key too")
        self.max_render_wait_ms = str(self.max_render_wait_ms).strip().lower()
        if self.max_render_wait_ms != "auto":
            try:
                bad = not float(self.max_render_wait_ms) >= 0  # NaN too
            except ValueError:
                bad = True
            if bad:
                raise ValueError(f"max_render_wait_ms must be auto or a number of ms >= 0 (0 = no limit), "
                                 f"got {self.max_render_wait_ms!r}")
        if not 0 <= self.render_nice <= 19:
            raise ValueError(f"render_nice must be in [0, 19] (Linux nice steps), got {self.render_nice}")
        for name in ("max_inflight", "max_stream_s", "edit_idle_timeout_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 = no limit), got {getattr(self, name)}")

    @property
    def tls(self) -> TlsFiles | None:
        return TlsFiles(self.tls_cert, self.tls_key, self.tls_client_ca) if self.tls_cert else None

    @property
    def render_bound_s(self) -> float | None:
        """--max-render-wait-ms in seconds; None = auto (measured per model)."""
        return None if self.max_render_wait_ms == "auto" else float(self.max_render_wait_ms) / 1e3

    @property
    def backend_threads(self) -> int | str | None:
        """What create_backend takes: "auto", a count, or None for the library's default."""
        return "auto" if self.threads == "auto" else int(self.threads) or None

    @property
    def models(self) -> list[str]:
        return [m.strip() for m in self.model.split(",") if m.strip()]

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "ServerConfig":
        """Defaults, then AVATARFORGE_<FIELD> variables, then `overrides` (None values ignored)."""
        environ = os.environ if environ is None else environ
        values: dict = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(f.type, raw, ENV_PREFIX + f.name.upper())
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "ServerConfig":
        return cls.from_env(**{f.name: getattr(args, f.name, None) for f in fields(cls)})


def _parse(type_name, raw: str, where: str):
    kind = type_name if isinstance(type_name, str) else type_name.__name__
    kind = kind.removesuffix(" | None")  # an optional field parses as its type
    if kind == "bool":
        flag = raw.strip().lower()
        if flag not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
            raise ValueError(f"{where}={raw!r} is not a valid bool: use 1/true/yes/on or 0/false/no/off")
        return flag in ("1", "true", "yes", "on")
    try:
        return {"int": int, "float": float}.get(kind, str)(raw)
    except ValueError as e:
        raise ValueError(f"{where}={raw!r} is not a valid {kind}") from e


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags for every field; defaults are None so the environment and dataclass defaults apply."""
    d = ServerConfig()
    a = parser.add_argument
    a("--address", help=f"host:port to listen on, port 0 = any free port (default {d.address})")
    a("--model", help=f"bundle name or path, comma-separated for several; first is the default (default {d.model})")
    a("--model-dir", dest="model_dir", help="folder of bundles searched before models/zoo")
    a("--backend", choices=BACKENDS, help="inference backend (default auto: tensorrt > torch cuda > cpu)")
    a("--device", help="auto | cpu | cuda:N (default auto)")
    a("--precision", choices=PRECISION_MODES, help="exact: fp32, the same pixels on every machine; fast: bf16 on CPUs "
      "with native bf16 (OpenVINO) or fp16 on CUDA, used only if it passes a start-up check against fp32 (GetModel "
      "reports it) (default exact)")
    a("--threads", help="backend CPU threads: auto (measured at start; GetModel reports the choice and why), "
                        "N, or 0 for the library's default (default auto)")
    a("--max-batch", dest="max_batch", type=int, help=f"rows per backend call (default {d.max_batch})")
    a("--max-delay-ms", dest="max_delay_ms", type=float,
      help=f"longest a partial batch waits for requests on their way, ms (default {d.max_delay_ms})")
    a("--max-queued-rows", dest="max_queued_rows", type=int,
      help=f"bulk rows queued per model before streams wait (backpressure; default {d.max_queued_rows})")
    a("--bulk-share", dest="bulk_share", type=float,
      help=f"share of each batch kept for GenerateBatch while interactive calls fill the rest, 0..1 (default {d.bulk_share})")
    a("--bulk-rows-when-interactive", dest="bulk_rows_when_interactive", type=int,
      help="largest bulk-only batch while interactive users are live: what a preview waits for at worst "
           "(default 0 = max-batch / 4)")
    a("--max-unary-items", dest="max_unary_items", type=int, help=f"characters per Generate call (default {d.max_unary_items})")
    a("--max-stream-items", dest="max_stream_items", type=int, help=f"items per GenerateBatch call (default {d.max_stream_items})")
    a("--max-message-bytes", dest="max_message_bytes", type=int, help=f"gRPC message size limit (default {d.max_message_bytes})")
    a("--default-psi", dest="default_psi", type=float, help="truncation psi for seeds when a request sets none (default: each model's own, from its manifest; 1.0 for avatars128 and avatars64)")
    a("--encode-workers", dest="encode_workers", type=int, help=f"image encoding threads (default {d.encode_workers})")
    a("--max-encode-images", dest="max_encode_images", type=int, help=f"pictures per Encode call (default {d.max_encode_images})")
    a("--max-encode-pixels", dest="max_encode_pixels", type=int,
      help=f"largest width*height of an Encode picture, checked before decoding (default {d.max_encode_pixels})")
    a("--max-refine-ms", dest="max_refine_ms", type=int, help=f"longest Encode refinement budget, ms (default {d.max_refine_ms})")
    a("--default-refine-ms", dest="default_refine_ms", type=int,
      help=f"refinement budget of an Encode call that asks for steps but no time, ms (default {d.default_refine_ms})")
    a("--grace", dest="grace_s", type=float, help=f"seconds in-flight calls may finish after SIGTERM (default {d.grace_s})")
    a("--metrics-port", dest="metrics_port", type=int, help="serve Prometheus /metrics on this port (default off)")
    a("--web-address", dest="web_address", help="host:port of the gRPC-Web (HTTP/1.1) door for browsers, Unity WebGL "
      "and Mono clients; every RPC but EditSession (use RenderPreview there) (default off)")
    a("--web-cors-origins", dest="web_cors_origins", help="origins allowed to call the web door from a browser page, "
      "comma-separated, e.g. https://creator.example.com; * for any (default none: same-origin and non-browser only)")
    a("--keys-file", dest="keys_file", help="API keys file made by `avatarforge keys add`: every call then needs "
      "'authorization: Bearer <key>' with the RPC's scope, and the keys' quotas apply (default: no keys)")
    a("--health", choices=HEALTH_MODES, help="open: health checks need no key; keyed: they need one (default open)")
    a("--reflection", choices=REFLECTION_MODES, help="server reflection: keyed = for any valid key, open = for anyone, "
      "off = not served (default keyed)")
    a("--tls-cert", dest="tls_cert", help="PEM certificate chain: serve both doors over TLS (with --tls-key)")
    a("--tls-key", dest="tls_key", help="PEM private key of --tls-cert")
    a("--tls-client-ca", dest="tls_client_ca", help="PEM CA bundle: require client certificates signed by it "
      "(mutual TLS) on both doors")
    a("--max-inflight", dest="max_inflight", type=int, help="calls in flight server-wide before new ones are "
      f"refused with RESOURCE_EXHAUSTED and a retry hint; 0 = no limit (default {d.max_inflight})")
    a("--max-render-wait-ms", dest="max_render_wait_ms", help="refuse an interactive render "
      "(RESOURCE_EXHAUSTED and a retry hint) while its model's backend would take longer than this to bring it "
      "back, ms: auto = twice the backend's time for a batch of 4 rows, measured at load; 0 = no bound. For a "
      "second after a call finds the queue past it, 60 %% of it holds, so admitted calls keep their "
      f"latency under sustained overload (default {d.max_render_wait_ms})")
    a("--render-nice", dest="render_nice", type=int, help="run the render threads this many steps lower in CPU "
      "priority (Linux nice, 0-19) than the event loop, which then answers refusals and health checks at once "
      f"while rendering saturates the cores; 0 = same priority (default {d.render_nice})")
    a("--max-stream-s", dest="max_stream_s", type=float, help="longest a stream may run, seconds; 0 = no limit "
      "(default 0)")
    a("--edit-idle-timeout-s", dest="edit_idle_timeout_s", type=float, help="end an EditSession whose client sent "
      f"nothing for this long, seconds; 0 = never (default {d.edit_idle_timeout_s:g})")
    a("--web", action="store_true", default=None, help="serve the browser character creator on the web door and "
      f"print its URL (opens the door on {WEB_PAGE_ADDRESS} unless --web-address is given)")
    a("--log-level", dest="log_level", help="DEBUG | INFO | WARNING (default INFO)")
