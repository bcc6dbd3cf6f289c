"""Who may make a call, and whether the server takes it now: the one check both doors run.

    authenticate(method, authorization)   stateless, before the request is read:
        the RPC's rule (RPC_RULES) -> the key named by `authorization: Bearer <key>`
        -> Unauthenticated (no key, unknown key) or PermissionDenied (key without the scope)
    admit(caller, images, model)          when the call starts, after its request is read:
        ShuttingDown once drain() began, then --max-inflight, then (for a call that renders
        images) --max-render-wait-ms on its model's backend queue, then the key's concurrency,
        requests/s and images/s (rate_limits.py)
        -> Throttled, or a Ticket that the door releases when the call ends
    relay(ticket, events)                 around a response stream:
        paces image events to the key's images/s and ends a stream past --max-stream-s

guard_native.py (a grpc.aio interceptor) and grpc_web.py (around each connectrpc endpoint) are
thin adapters over this. With no keys file every caller is anonymous and only the admission
limit and the stream cap apply. Health checks are never throttled: a load balancer probing a
busy server must hear SERVING, not RESOURCE_EXHAUSTED.

Draining (SIGTERM, app.py): drain() refuses every new call with UNAVAILABLE and a message that
says why, and waits for the admitted ones to end. The guard does this, not grpc's own stop:
grpc.aio's Server.stop(grace) ends calls that arrive during the grace period with a bare
CANCELLED, which a client cannot tell from its own cancel and no retry policy retries.
"""
from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from avatarforge.v1 import avatarforge_pb2 as pb

from .api_keys import ApiKey, KeyStore
from .errors import PermissionDenied, ShuttingDown, StreamExpired, Unauthenticated
from .rate_limits import Admission, KeyQuota

OPEN = "open"  # no key needed
ANY_KEY = "any key"  # any valid key, whatever its scopes
HEALTH = "/grpc.health.v1.Health/"
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/"

_AF = "/avatarforge.v1.AvatarForge/"
# The scope each RPC needs. A method missing here (a new RPC, an unknown service) needs admin,
# so forgetting a row locks a method down rather than opening it.
RPC_RULES: dict[str, str] = {
    _AF + "ListModels": ANY_KEY,
    _AF + "GetModel": ANY_KEY,
    _AF + "Generate": "generate",
    _AF + "GenerateBatch": "generate",
    _AF + "EditSession": "edit",
    _AF + "RenderPreview": "edit",
    _AF + "Interpolate": "edit",
    _AF + "Mix": "edit",
    _AF + "Mutate": "edit",
    _AF + "Encode": "encode",
    _AF + "GetParts": "edit",  # an editor reads a face's parts to fill its part pickers
    HEALTH + "Check": OPEN,
    HEALTH + "Watch": OPEN,
    REFLECTION + "ServerReflectionInfo": ANY_KEY,
}

HOW_TO_AUTHENTICATE = "send 'authorization: Bearer <key>'; keys are made with `avatarforge keys add`"


def images_requested(method: str, request) -> int:
    """Images a unary call will make, charged to the key's images/s before it runs."""
    rpc = method.rsplit("/", 1)[-1]
    if rpc == "Generate":
        return len(request.characters)
    if rpc == "Mutate":
        return max(0, request.count)
    if rpc == "GetParts":  # a DNA's parts are read off its render; a seed's cost nothing
        return sum(c.HasField("dna") for c in request.characters)
    return 1 if rpc in ("Mix", "RenderPreview") else 0


def images_in(event) -> int:
    """Images in one event of a response stream, paced to the key's images/s as they are sent."""
    if isinstance(event, pb.GenerateBatchEvent):
        return int(event.HasField("item") and event.item.HasField("image"))
    if isinstance(event, pb.EditEvent):
        return int(event.HasField("preview") or event.HasField("started"))
    return int(isinstance(event, pb.InterpolateFrame))


@dataclass(frozen=True)
class Caller:
    method: str
    key: ApiKey | None  # None: keys are off, or the method is open
    exempt: bool  # health: never throttled


class Ticket:
    """An admitted call: holds its admission and concurrency slots until release()."""

    def __init__(self, guard: "CallGuard", caller: Caller, quota: KeyQuota | None, started: float):
        self.guard, self.caller, self.quota, self.started = guard, caller, quota, started
        self._held = not caller.exempt

    def release(self) -> None:
        if self._held:
            self._held = False
            self.guard.admission.leave()
            if self.quota is not None:
                self.quota.release()


class CallGuard:
    def __init__(self, keys: KeyStore | None, max_inflight: int = 0, max_stream_s: float = 0.0,
                 health: str = OPEN, reflection: str = ANY_KEY, clock: Callable[[], float] = time.monotonic):
        """keys: None = no authentication. health / reflection: OPEN or ANY_KEY (config.py's
        --health and --reflection). max_stream_s: 0 = streams may run for ever."""
        self.keys = keys
        self.admission = Admission(max_inflight)
        # (model name, rows) -> (how long its backend would take to bring a new interactive
        # render back while interactive rows are queued, the model's bound; 0 = none)
        # (ModelRegistry.render_wait); set once the models are loaded
        self.render_wait: Callable[[str, int], tuple[float, float]] | None = None
        self.max_stream_s = max_stream_s
        self.clock = clock
        self.rules = dict(RPC_RULES)
        for name in ("Check", "Watch"):
            self.rules[HEALTH + name] = health
        self.rules[REFLECTION + "ServerReflectionInfo"] = reflection
        self._quotas: dict[str, KeyQuota] = {}
        self.draining = False

    def rule(self, method: str) -> str:
        return self.rules.get(method, "admin")

    def authenticate(self, method: str, authorization: str | None) -> Caller:
        rule = self.rule(method)
        exempt = method.startswith(HEALTH)
        if self.keys is None or rule == OPEN:
            return Caller(method, None, exempt)
        scheme, _, presented = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise Unauthenticated(f"{method} needs an API key: {HOW_TO_AUTHENTICATE}")
        key = self.keys.find(presented.strip())
        if key is None:
            raise Unauthenticated(f"this API key is not known to the server: {HOW_TO_AUTHENTICATE}")
        if rule != ANY_KEY and not key.allows(rule):
            raise PermissionDenied(f"key {key.name!r} lacks the {rule!r} scope that {method} needs: ask for a key "
                                   f"with it (`avatarforge keys add NAME --scopes {rule}`)")
        return Caller(method, key, exempt)

    def admit(self, caller: Caller, images: int = 0, model: str = "") -> Ticket:
        """Count the call in, or raise Throttled with nothing counted. images: what a unary call
        renders (images_requested); model: the request's model, whose queue it would join."""
        now = self.clock()
        if caller.exempt:
            return Ticket(self, caller, None, now)
        if self.draining:
            raise ShuttingDown("this server is shutting down and takes no new calls: retry on another instance, "
                               "or here once it is back")
        if images and self.render_wait is not None:
            self.admission.enter(*self.render_wait(model, images), queue=model, now=now)
        else:
            self.admission.enter()
        quota = None
        if caller.key is not None:
            quota = self._quota(caller.key, now)
            try:
                quota.admit(images, now)
            except BaseException:
                self.admission.leave()
                raise
        return Ticket(self, caller, quota, now)

    async def drain(self, timeout_s: float, poll_s: float = 0.02) -> bool:
        """Refuse new calls from now on; wait up to `timeout_s` for the admitted ones to end.
        True when none is left."""
        self.draining = True
        deadline = time.monotonic() + timeout_s
        while self.admission.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(poll_s)
        return not self.admission.in_flight

    def _quota(self, key: ApiKey, now: float) -> KeyQuota:
        quota = self._quotas.get(key.sha256)
        if quota is None:
            quota = self._quotas[key.sha256] = KeyQuota(key, now)
        return quota

    async def relay(self, ticket: Ticket, events: AsyncIterator) -> AsyncIterator:
        """`events` as they come, each image event after the key's images/s allows it; raises
        StreamExpired before an event past --max-stream-s. aclosing(): a cancelled call closes
        `events` at once, so the service drops its queued work (as api._streaming does)."""
        async with aclosing(events) as it:
            async for event in it:
                if self.max_stream_s and self.clock() - ticket.started > self.max_stream_s:
                    raise StreamExpired(f"this stream ran past the server's limit of {self.max_stream_s:g} s "
                                        "(--max-stream-s): continue in a new call (GenerateBatch resumes at "
                                        "start_index; an EditSession reopens with the committed DNA)")
                if ticket.quota is not None:
                    wait = ticket.quota.pace(images_in(event), self.clock())
                    if wait:
                        await asyncio.sleep(wait)
                yield event
