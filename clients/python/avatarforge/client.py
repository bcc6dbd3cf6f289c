"""A typed, blocking Python client for the AvatarForge gRPC API.

    from avatarforge.client import AvatarForgeClient
    with AvatarForgeClient("localhost:50051") as af:
        info = af.get_model()
        reply = af.generate(seeds=[1, 2, 3], size=64)
        for event in af.generate_batch(seeds=range(1000), start_index=0):
            if event.WhichOneof("event") == "item": ...
        me = af.encode([open("me.png", "rb").read()], refine_steps=100, refine_budget_ms=1000)
        with af.edit_session(reply.results[0].dna) as session:   # interactive sliders
            seq = session.update({"sefa/0": 1.5})
            preview = session.wait_preview(seq)
            new_dna = session.commit()

Several replicas of the server behind one client (README "Scaling out"): each call goes to the
next replica in turn; a stream, an EditSession included, stays on one replica for its life.

    AvatarForgeClient("10.0.0.5:50051,10.0.0.6:50051")    # or "dns:///avatars.lan:50051"

With API keys and TLS (the server's "Running it safely" setup):

    AvatarForgeClient("avatars.studio.lan:50051", token=os.environ["AVATARFORGE_TOKEN"],
                      ca_file="ca.pem")            # + client_cert=, client_key= for mutual TLS

Replies are the `avatarforge.v1` protobuf messages (documented in avatarforge.proto); failed
calls raise `grpc.RpcError` with the server's status code and message.
"""
from __future__ import annotations

import collections
import queue
import threading
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from avatarforge.v1 import avatarforge_pb2 as pb
from avatarforge.v1 import avatarforge_pb2_grpc as pb_grpc

from .replicas import LIST_WITH_TLS, ROUND_ROBIN, channel_target

FORMATS = {
    "png": pb.IMAGE_FORMAT_PNG,
    "jpeg": pb.IMAGE_FORMAT_JPEG,
    "jpg": pb.IMAGE_FORMAT_JPEG,
    "webp": pb.IMAGE_FORMAT_WEBP,
    "raw": pb.IMAGE_FORMAT_RAW_RGBA8,
    "raw_bgra": pb.IMAGE_FORMAT_RAW_BGRA8,
}
FILE_EXTENSIONS = {pb.IMAGE_FORMAT_PNG: "png", pb.IMAGE_FORMAT_JPEG: "jpg", pb.IMAGE_FORMAT_WEBP: "webp",
                   pb.IMAGE_FORMAT_RAW_RGBA8: "rgba", pb.IMAGE_FORMAT_RAW_BGRA8: "bgra"}
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def output_spec(format: str | int = "png", size: int = 0, quality: int = 0, bottom_up: bool = False) -> pb.OutputSpec:
    """format: png | jpeg | webp | raw | raw_bgra, or an ImageFormat value; size 0 = the model's
    native size; bottom_up (raw only): bottom row first, as Unity textures want."""
    fmt = FORMATS[format.lower()] if isinstance(format, str) else format
    return pb.OutputSpec(format=fmt, size=size, quality=quality, bottom_up=bottom_up)


class _CallDetails(collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials",
                                                             "wait_for_ready", "compression")),
                   grpc.ClientCallDetails):
    pass


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                   grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer <key>` to every call. An interceptor rather than gRPC call
    credentials, which gRPC sends only over TLS: a loopback server with keys and no TLS works too."""

    def __init__(self, token: str):
        self.header = ("authorization", f"Bearer {token}")

    def _details(self, d: grpc.ClientCallDetails) -> _CallDetails:
        return _CallDetails(d.method, d.timeout, [*(d.metadata or ()), self.header], d.credentials,
                            d.wait_for_ready, d.compression)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._details(details), requests)


def tls_credentials(ca_file: str | None = None, client_cert: str | None = None,
                    client_key: str | None = None) -> grpc.ChannelCredentials:
    """TLS trusting `ca_file` (PEM; None = the system's roots), presenting `client_cert` and
    `client_key` (PEM) when the server requires mutual TLS."""
    if bool(client_cert) != bool(client_key):
        raise ValueError("client_cert and client_key go together: give both or neither")
    read = lambda p: Path(p).read_bytes() if p else None
    return grpc.ssl_channel_credentials(read(ca_file), read(client_key), read(client_cert))


class AvatarForgeClient:
    def __init__(self, address: str = "localhost:50051", timeout: float = 30.0,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, channel: grpc.Channel | None = None, *,
                 token: str | None = None, tls: bool = False, ca_file: str | None = None,
                 client_cert: str | None = None, client_key: str | None = None):
        """`address`: HOST:PORT, several replicas as a comma list of IP:PORT, or a gRPC target
        ("dns:///avatars.lan:50051", "ipv4:10.0.0.5:50051,10.0.0.6:50051"); calls are spread
        round-robin over every address it resolves to (avatarforge/replicas.py).
        `timeout` is the deadline of unary calls in seconds; streams have none by default.
        token: the API key, sent as `authorization: Bearer <token>` on every call. TLS is used
        when `tls` is set or any of ca_file (the CA that signed the server's certificate; None =
        the system's roots), client_cert and client_key (mutual TLS) is given."""
        self.address = address
        self.timeout = timeout
        target = channel_target(address)
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.service_config", ROUND_ROBIN),
        ]
        if channel is None and (tls or ca_file or client_cert or client_key):
            if "," in target:
                raise ValueError(LIST_WITH_TLS)
            channel = grpc.secure_channel(target, tls_credentials(ca_file, client_cert, client_key), options)
        channel = channel or grpc.insecure_channel(target, options=options)
        self.channel = grpc.intercept_channel(channel, _BearerToken(token)) if token else channel
        self.stub = pb_grpc.AvatarForgeStub(self.channel)
        self._health = health_pb2_grpc.HealthStub(self.channel)

    def __enter__(self) -> "AvatarForgeClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def health(self, service: str = "") -> str:
        """grpc.health.v1 status name ("SERVING", "NOT_SERVING", ...) of `service` ("" = server)."""
        reply = self._health.Check(health_pb2.HealthCheckRequest(service=service), timeout=self.timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    def wait_until_serving(self, timeout: float = 60.0) -> None:
        """Block until the channel connects and health says SERVING (raises grpc.FutureTimeoutError)."""
        grpc.channel_ready_future(self.channel).result(timeout=timeout)
        if self.health() != "SERVING":
            raise RuntimeError(f"server at {self.address} is up but not SERVING")

    def list_models(self) -> pb.ListModelsResponse:
        return self.stub.ListModels(pb.ListModelsRequest(), timeout=self.timeout)

    def get_model(self, model: str = "") -> pb.ModelInfo:
        """Resolution, latent shape, backend, sizes and limits of `model` ("" = server default)."""
        return self.stub.GetModel(pb.GetModelRequest(model=model), timeout=self.timeout)

    def generate(self, seeds: Iterable[int] = (), dnas: Iterable[pb.CharacterDna] = (), *, model: str = "",
                 psi: float | None = None, format: str | int = "png", size: int = 0, quality: int = 0,
                 request_id: str = "") -> pb.GenerateResponse:
        """A few faces in one call: seeds first, then DNAs, in that order in `results`."""
        chars = [pb.CharacterSource(seed=s) for s in seeds] + [pb.CharacterSource(dna=d) for d in dnas]
        req = pb.GenerateRequest(request_id=request_id, model=model, characters=chars,
                                 output=output_spec(format, size, quality))
        if psi is not None:
            req.truncation_psi = psi
        return self.stub.Generate(req, timeout=self.timeout)

    def generate_batch(self, seeds: Sequence[int] | None = None, *, base_seed: int = 0, count: int = 0,
                       start_index: int = 0, model: str = "", psi: float | None = None,
                       format: str | int = "png", size: int = 0, quality: int = 0, request_id: str = "",
                       progress_every: int = 0, timeout: float | None = None) -> "BatchStream":
        """Stream GenerateBatchEvents for `seeds` (an explicit list; a `range` is sent compactly)
        or for base_seed..base_seed+count-1. Items with index < start_index are not produced.

        Returns an iterator of events that can be `.cancel()`ed (which stops the server's work).
        """
        req = pb.GenerateBatchRequest(request_id=request_id, model=model, start_index=start_index,
                                      output=output_spec(format, size, quality), progress_every=progress_every)
        if isinstance(seeds, range) and seeds.step == 1:
            base_seed, count, seeds = seeds.start, len(seeds), None
        if seeds is not None:
            req.list.seeds.extend(seeds)
        else:
            req.range.base_seed, req.range.count = base_seed, count
        if psi is not None:
            req.truncation_psi = psi
        return BatchStream(self.stub.GenerateBatch(req, timeout=timeout))


    # ------------------------------------------------------------------ editing

    def edit_session(self, dna: pb.CharacterDna, *, model: str = "", format: str | int = "png", size: int = 0,
                     quality: int = 0, request_id: str = "", timeout: float | None = None) -> "EditSessionStream":
        """Open an EditSession on `dna`; returns once the start face has been rendered."""
        start = pb.EditStart(request_id=request_id, model=model, dna=dna, output=output_spec(format, size, quality))
        return EditSessionStream(self.stub, start, timeout)

    def render_preview(self, dna: pb.CharacterDna, edits: Mapping[str, float] | None = None, *,
                       mix: pb.MixSpec | None = None, psi: float | None = None, set_parts: Mapping[str, str] | None = None,
                       model: str = "", format: str | int = "png", size: int = 0, quality: int = 0,
                       request_id: str = "") -> pb.RenderPreviewResponse:
        """One edited render without a session (the same result as an EditSession preview).
        `set_parts` sets parts by name, e.g. {"hair_color": "RED"} (ModelInfo.parts lists them)."""
        req = pb.RenderPreviewRequest(request_id=request_id, model=model, dna=dna, edits=_edits(edits), mix=mix,
                                      set_parts=_parts(set_parts), output=output_spec(format, size, quality))
        if psi is not None:
            req.truncation_psi = psi
        return self.stub.RenderPreview(req, timeout=self.timeout)

    def interpolate(self, source: pb.CharacterDna, target: pb.CharacterDna, frames: int, *,
                    via: Sequence[pb.CharacterDna] = (), spherical: bool = False, model: str = "",
                    format: str | int = "png", size: int = 0, quality: int = 0, request_id: str = "",
                    timeout: float | None = None) -> Iterator[pb.InterpolateFrame]:
        """`frames` frames from source (t=0) through `via` to target (t=1), streamed in order."""
        space = pb.INTERPOLATION_SPACE_W_PLUS_SLERP if spherical else pb.INTERPOLATION_SPACE_W_PLUS_LINEAR
        req = pb.InterpolateRequest(request_id=request_id, model=model, source=source, target=target, via=via,
                                    frames=frames, space=space, output=output_spec(format, size, quality))
        return self.stub.Interpolate(req, timeout=timeout)

    def mix(self, parents: Sequence[pb.MixParent], *, style: bool = False, model: str = "", format: str | int = "png",
            size: int = 0, quality: int = 0, request_id: str = "") -> pb.GenerateResponse:
        """A child of two or more faces: a weighted blend, or (style=True) layer ranges from each parent."""
        req = pb.MixRequest(request_id=request_id, model=model, parents=parents,
                            mode=pb.MIX_MODE_STYLE if style else pb.MIX_MODE_BLEND,
                            output=output_spec(format, size, quality))
        return self.stub.Mix(req, timeout=self.timeout)

    def mutate(self, dna: pb.CharacterDna, count: int, strength: float, seed: int = 0, *, model: str = "",
               format: str | int = "png", size: int = 0, quality: int = 0, request_id: str = "") -> pb.GenerateResponse:
        """`count` variations of a face (same seed -> same children)."""
        req = pb.MutateRequest(request_id=request_id, model=model, dna=dna, count=count, strength=strength, seed=seed,
                               output=output_spec(format, size, quality))
        return self.stub.Mutate(req, timeout=self.timeout)

    def get_parts(self, seeds: Iterable[int] = (), dnas: Iterable[pb.CharacterDna] = (), *, model: str = "",
                  request_id: str = "") -> pb.GetPartsResponse:
        """The parts of faces, seeds first, then DNAs; each FaceParts says whether they are exact
        (PARTS_SOURCE_SEED) or the classifier's reading of the render (PARTS_SOURCE_CLASSIFIER)."""
        chars = [pb.CharacterSource(seed=s) for s in seeds] + [pb.CharacterSource(dna=d) for d in dnas]
        return self.stub.GetParts(pb.GetPartsRequest(request_id=request_id, model=model, characters=chars),
                                  timeout=self.timeout)

    # ------------------------------------------------------------------ personalisation

    def encode(self, pictures: Sequence[bytes | pb.FaceImage], *, refine_steps: int = 0, refine_budget_ms: int = 0,
               return_aligned: bool = False, model: str = "", format: str | int = "png", size: int = 0,
               quality: int = 0, request_id: str = "") -> pb.EncodeResponse:
        """Pictures of one character (PNG/JPEG/WebP file bytes, or FaceImages such as raw RGBA8)
        -> its DNA, a reconstruction and scores. refine_steps > 0 refines the code for at most
        that many steps and refine_budget_ms (0 = the server's default budget)."""
        images = [p if isinstance(p, pb.FaceImage) else pb.FaceImage(data=bytes(p)) for p in pictures]
        req = pb.EncodeRequest(request_id=request_id, model=model, images=images, output=output_spec(format, size, quality),
                               refine_steps=refine_steps, refine_budget_ms=refine_budget_ms, return_aligned=return_aligned)
        return self.stub.Encode(req, timeout=self.timeout)


def _edits(edits: Mapping[str, float] | None) -> list[pb.DirectionEdit]:
    return [pb.DirectionEdit(direction=k, strength=v) for k, v in (edits or {}).items()]


def _parts(set_parts: Mapping[str, str] | None) -> list[pb.PartValue]:
    return [pb.PartValue(part=k, value=v) for k, v in (set_parts or {}).items()]


def parts_dict(face: pb.FaceParts) -> dict[str, str]:
    """One face of a GetParts reply as {part: value}."""
    return {p.part: p.value for p in face.parts}


class EditRejected(RuntimeError):
    """The server answered an EditSession message with an error event (the session stays open)."""

    def __init__(self, error: pb.ItemError):
        super().__init__(error.message)
        self.error = error


class EditSessionStream:
    """A blocking handle on one EditSession: `update()` sends an absolute state and returns its
    seq at once; `next_event()` / `wait_preview(seq)` read replies; `commit()` returns the DNA.
    Requests go through a queue that feeds gRPC's request iterator on gRPC's own thread."""

    def __init__(self, stub, start: pb.EditStart, timeout: float | None):
        self._requests: queue.Queue = queue.Queue()
        self._requests.put(pb.EditRequest(start=start))
        self._call = stub.EditSession(iter(self._requests.get, None), timeout=timeout)
        self._lock = threading.Lock()
        self.seq = 0
        first = self.next_event()
        if first.WhichOneof("event") != "started":
            self.close()
            raise EditRejected(first.error if first.HasField("error") else pb.ItemError(message=str(first)))
        self.started: pb.EditStarted = first.started

    def __enter__(self) -> "EditSessionStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, edits: Mapping[str, float] | None = None, *, mix: pb.MixSpec | None = None,
               psi: float | None = None, set_parts: Mapping[str, str] | None = None,
               output: pb.OutputSpec | None = None, seq: int | None = None) -> int:
        """Send the editor's whole state (latest wins on the server); returns its seq."""
        with self._lock:
            self.seq = self.seq + 1 if seq is None else seq
            state = pb.EditState(seq=self.seq, edits=_edits(edits), mix=mix, set_parts=_parts(set_parts), output=output)
            if psi is not None:
                state.truncation_psi = psi
            self._requests.put(pb.EditRequest(state=state))
            return self.seq

    def next_event(self) -> pb.EditEvent:
        return next(self._call)

    def wait_preview(self, seq: int) -> pb.EditPreview:
        """The first preview of `seq` or later. Raises EditRejected at the first error event
        met on the way (a rejected state never gets a preview; the session stays usable)."""
        while True:
            event = self.next_event()
            kind = event.WhichOneof("event")
            if kind == "preview" and event.preview.seq >= seq:
                return event.preview
            if kind == "error":
                raise EditRejected(event.error)

    def commit(self, seq: int | None = None) -> pb.CharacterDna:
        """The DNA of the latest state (or `seq`); raises RuntimeError with the server's message if refused."""
        self._requests.put(pb.EditRequest(commit=pb.EditCommit(seq=self.seq if seq is None else seq)))
        while True:
            event = self.next_event()
            kind = event.WhichOneof("event")
            if kind == "committed":
                return event.committed.dna
            if kind == "error":
                raise EditRejected(event.error)

    def close(self) -> list[pb.EditEvent]:
        """Half-close (the server renders what is pending) and return the events still to come."""
        self._requests.put(None)
        try:
            return list(self._call)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.CANCELLED:
                return []
            raise


class BatchStream:
    """Iterator of GenerateBatchEvents with `cancel()`; `summary` is set once the stream ends."""

    def __init__(self, call):
        self._call = call
        self.summary: pb.BatchSummary | None = None

    def __iter__(self) -> Iterator[pb.GenerateBatchEvent]:
        for event in self._call:
            if event.WhichOneof("event") == "summary":
                self.summary = event.summary
            yield event

    def items(self) -> Iterator[pb.FaceResult]:
        """Only the items (successful or with an error), in order."""
        for event in self:
            if event.WhichOneof("event") == "item":
                yield event.item

    def cancel(self) -> None:
        self._call.cancel()
