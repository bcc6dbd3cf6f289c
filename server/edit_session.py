"""The interactive EditSession: slider states in, previews out, latest wins on both sides.

Two tasks per session, one slot between them, and a bounded outbox:

    reader  : reads EditRequests; validates each state at once (a bad one is answered with an
              error event and the session goes on) and puts it in the `pending` slot,
              replacing, and counting as skipped, any state not rendered yet.
    renderer: whenever the slot is full and the previous render has finished, takes the state
              out and renders it at interactive priority into the outbox.
    outbox  : what the client has not read yet. It holds at most one preview: a newer render
              replaces an undelivered one, whose seq and skips count in the newer one's
              `skipped`. Other events (started, errors, commits) are never dropped; when
              MAX_UNSENT_EVENTS of them wait, the reader stops reading, so a client that sends
              without reading is pushed back by gRPC flow control instead of growing the server.

So neither a fast slider nor a slow reader (a phone on a bad network, a frame hitch) builds a
queue: a session holds at most one state waiting, one preview and MAX_UNSENT_EVENTS other events,
and every Preview is the newest the server has. Each Preview echoes the seq it rendered, its
timings and how many states were skipped since the previous delivered preview, so delivered
previews plus their skips count every accepted state (the grpc#37715 lesson in
research/serving.md, implication 4). When the client half-closes, the pending state (if any)
is still rendered, everything in the outbox is sent, then the stream ends.

Start (EditStart) renders the start face into EditStarted; a state before a valid start is an
error event. The first state that sets parts reads the start face's parts once (face_parts.py:
from its seed, or by the classifier from the start render kept for this). Commit answers with the DNA of the latest accepted state (W+ after the edits; the
edit list records how, see edit_planning.py). A client that sends nothing for idle_timeout_s
(--edit-idle-timeout-s) has its session ended with DEADLINE_EXCEEDED.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
from dataclasses import dataclass
from typing import AsyncIterator

import numpy as np

from avatarforge.v1 import avatarforge_pb2 as pb

from . import validation
from .dna import read_dna
from .edit_planning import EditPlan, derived_dna, edited_ws, plan_edit
from .errors import InvalidRequest, StreamExpired, item_error_code
from .face_parts import PartReader
from .model_runtime import ModelRegistry, ModelRuntime
from .render_pipeline import RenderPipeline

log = logging.getLogger(__name__)

MAX_UNSENT_EVENTS = 16  # started/error/commit events held for a client that is not reading


@dataclass
class _Start:
    rt: ModelRuntime
    dna: pb.CharacterDna
    ws: np.ndarray  # float32 [num_ws, w_dim]
    output: validation.OutputPlan
    pixels: np.ndarray  # uint8 [H, W, 3]: its render, which the classifier reads parts from when it must
    parts: np.ndarray | None = None  # int64 [num_parts], read when a state first sets parts


@dataclass
class _State:
    seq: int
    plan: EditPlan


class _Outbox:
    """Events the client has not read yet: at most one preview (latest wins) and at most
    `limit` other events, in the order they were made."""

    def __init__(self, limit: int):
        self.limit = limit
        self.events: collections.deque[pb.EditEvent] = collections.deque()
        self.closed = False  # nothing more will be put
        self._changed = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def put(self, event: pb.EditEvent) -> None:
        """A started, error or committed event: never dropped."""
        self.events.append(event)
        self._update()

    def put_preview(self, preview: pb.EditPreview) -> None:
        """A newer preview replaces an undelivered one and inherits its count of skips."""
        for i, e in enumerate(self.events):
            if e.HasField("preview"):
                preview.skipped += e.preview.skipped + 1
                del self.events[i]
                break
        self.events.append(pb.EditEvent(preview=preview))
        self._update()

    def close(self) -> None:
        self.closed = True
        self._update()

    async def room(self) -> None:
        """Wait until fewer than `limit` non-preview events are unsent."""
        await self._room.wait()

    async def get(self) -> pb.EditEvent | None:
        """The oldest unsent event; None once closed and empty."""
        while not self.events:
            if self.closed:
                return None
            self._changed.clear()
            await self._changed.wait()
        event = self.events.popleft()
        self._update()
        return event

    def _update(self) -> None:
        self._changed.set()
        others = sum(not e.HasField("preview") for e in self.events)
        if others < self.limit:
            self._room.set()
        else:
            self._room.clear()


class EditSession:
    def __init__(self, registry: ModelRegistry, pipeline: RenderPipeline, parts: PartReader, idle_timeout_s: float = 0.0):
        self.registry = registry
        self.pipeline = pipeline
        self.parts = parts
        self.idle_timeout_s = idle_timeout_s  # 0 = a session may wait for its next message for ever
        self.session_id = uuid.uuid4().hex[:16]
        self.start: _Start | None = None
        self.latest: _State | None = None  # the newest accepted state: what Commit commits
        self.pending: _State | None = None  # accepted, not rendered yet (at most one)
        self.skipped = 0  # states replaced in `pending` since the last render
        self.input_done = False
        self.outbox = _Outbox(MAX_UNSENT_EVENTS)
        self._wake = asyncio.Event()  # a state was put in `pending`, or the input ended

    async def run(self, requests: AsyncIterator[pb.EditRequest]) -> AsyncIterator[pb.EditEvent]:
        reader = asyncio.ensure_future(self._read(requests))
        renderer = asyncio.ensure_future(self._render_loop())
        try:
            while (event := await self.outbox.get()) is not None:
                yield event
            await reader  # re-raises a failure of the request stream itself
        finally:  # the client went away (or the stream ended): stop both tasks
            for task in (reader, renderer):
                task.cancel()
            await asyncio.gather(reader, renderer, return_exceptions=True)

    # ------------------------------------------------------------------ reader

    async def _next_request(self, requests: AsyncIterator[pb.EditRequest]) -> pb.EditRequest | None:
        """The client's next message, None when it half-closed; a client silent for longer than
        idle_timeout_s ends the session, so an abandoned editor does not hold a call slot for ever."""
        if not self.idle_timeout_s:
            return await anext(requests, None)
        try:
            return await asyncio.wait_for(anext(requests, None), self.idle_timeout_s)
        except asyncio.TimeoutError:
            raise StreamExpired(f"EditSession {self.session_id} had no message for {self.idle_timeout_s:g} s "
                                "(--edit-idle-timeout-s): open a new session with the face's DNA") from None

    async def _read(self, requests: AsyncIterator[pb.EditRequest]) -> None:
        requests = aiter(requests)
        try:
            while (req := await self._next_request(requests)) is not None:
                seq = 0  # the state seq an error rejects, when it is about one
                await self.outbox.room()  # a client that does not read stops being read
                kind = req.WhichOneof("msg")
                try:
                    if kind == "start":
                        await self._on_start(req.start)
                    elif kind == "state":
                        seq = req.state.seq
                        await self._on_state(req.state)
                    elif kind == "commit":
                        self._on_commit(req.commit)
                    else:
                        raise InvalidRequest("empty EditRequest: set start, state or commit")
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # a bad message is answered; the session stays open
                    self._error(e, seq)
        finally:
            self.input_done = True
            self._wake.set()

    async def _on_start(self, msg: pb.EditStart) -> None:
        if self.start is not None:
            raise InvalidRequest("the session has already started; open a new EditSession to edit another face")
        validation.request_id(msg.request_id)
        rt = self.registry.get(msg.model)
        if not msg.HasField("dna"):
            raise InvalidRequest("start.dna is empty: give the DNA of the face to edit")
        ws = read_dna(msg.dna, rt.identity, "start.dna")
        output = validation.output(msg.output, rt.resolution, rt.sizes)
        pixels, image, _ = await self.pipeline.render_one_with_pixels(rt, ws, output)
        self.start = _Start(rt, msg.dna, ws, output, pixels)
        self.outbox.put(pb.EditEvent(started=pb.EditStarted(session_id=self.session_id, image=image)))

    async def _on_state(self, msg: pb.EditState) -> None:
        if self.start is None:
            raise InvalidRequest(f"state {msg.seq} came before a valid start: send EditStart with the face's DNA first")
        last = self.latest.seq if self.latest else 0
        if msg.seq <= last:
            raise InvalidRequest(f"state seq {msg.seq} is not after the last accepted seq {last}: "
                                 "number states 1, 2, 3, ... in the order they are sent")
        state = _State(msg.seq, plan_edit(self.start.rt, msg, self.start.output))
        if state.plan.set_parts and self.start.parts is None:
            s = self.start
            s.parts = (await self.parts.parts_of(s.rt, s.dna, s.ws, s.pixels))[0]
        self.latest = state
        if self.pending is not None:
            self.skipped += 1  # latest wins: the older state is never rendered
        self.pending = state
        self._wake.set()

    def _on_commit(self, msg: pb.EditCommit) -> None:
        if self.start is None:
            raise InvalidRequest("commit came before a valid start: send EditStart first")
        last = self.latest.seq if self.latest else 0
        if msg.seq != last:
            raise InvalidRequest(f"commit seq {msg.seq} is not the latest accepted state ({last}); "
                                 "commit the state the editor shows now")
        if self.latest is None:  # nothing edited: the start face as it came
            dna = self.start.dna
        else:
            ws = edited_ws(self.start.rt, self.start.ws, self.latest.plan, self.start.parts)
            dna = derived_dna(self.start.rt, self.start.dna, ws, self.latest.plan.record())
        self.outbox.put(pb.EditEvent(committed=pb.EditCommitted(seq=msg.seq, dna=dna)))

    # ------------------------------------------------------------------ renderer

    async def _render_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self.pending is None:
                    if self.input_done:
                        return
                    continue
                state, skipped = self.pending, self.skipped
                self.pending, self.skipped = None, 0
                try:
                    self.outbox.put_preview(await self._render(state, skipped))
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # a backend failure fails this preview, not the session
                    log.exception("session %s: rendering state %d failed", self.session_id, state.seq)
                    self._error(e, state.seq)
                if self.pending is not None or self.input_done:
                    self._wake.set()  # states arrived while rendering, or the input ended
        finally:
            self.outbox.close()

    async def _render(self, state: _State, skipped: int) -> pb.EditPreview:
        t = time.perf_counter()
        ws = edited_ws(self.start.rt, self.start.ws, state.plan, self.start.parts)
        image, timing = await self.pipeline.render_one(self.start.rt, ws, state.plan.output,
                                                       int((time.perf_counter() - t) * 1e6))
        return pb.EditPreview(seq=state.seq, image=image, timing=timing, skipped=skipped)

    def _error(self, exc: BaseException, seq: int = 0) -> None:
        self.outbox.put(pb.EditEvent(error=pb.ItemError(code=item_error_code(exc), message=str(exc) or type(exc).__name__,
                                                        seq=seq, field=getattr(exc, "field", ""))))
