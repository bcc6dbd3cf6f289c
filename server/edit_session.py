"""The interactive EditSession: slider states in, previews out, latest wins.

Two tasks per session and one bounded slot between them:

    reader  : reads EditRequests; validates each state at once (a bad one is answered with an
              error event and the session goes on) and puts it in the `pending` slot,
              replacing, and counting as skipped, any state not rendered yet.
    renderer: whenever the slot is full and the previous render has finished, takes the state
              out and renders it at interactive priority.

So a slow renderer (or a busy server) never builds a queue: however fast a client drags a
slider, the session holds at most one state waiting and renders only the newest (the
grpc#37715 lesson in research/serving.md, implication 4). Each Preview echoes the seq it
rendered, its timings and how many states were skipped since the previous preview. When the
client half-closes, the pending state (if any) is still rendered, then the stream ends.

Start (EditStart) renders the start face into EditStarted; a state before a valid start is an
error event. Commit answers with the DNA of the latest accepted state (W+ after the edits; the
edit list records how, see editing.py).
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, AsyncIterator

import numpy as np

from avatarforge.v1 import avatarforge_pb2 as pb

from . import validation
from .dna import read_dna
from .editing import EditPlan, derived_dna, edited_ws, plan_edit, render_one
from .errors import InvalidRequest, item_error_code
from .model_runtime import ModelRuntime

if TYPE_CHECKING:
    from .service import AvatarForgeService

log = logging.getLogger(__name__)

_END = object()  # marks the end of the event stream


@dataclass
class _Start:
    rt: ModelRuntime
    dna: pb.CharacterDna
    ws: np.ndarray  # float32 [num_ws, w_dim]
    output: validation.OutputPlan


@dataclass
class _State:
    seq: int
    plan: EditPlan


class EditSession:
    def __init__(self, service: "AvatarForgeService"):
        self.service = service
        self.session_id = uuid.uuid4().hex[:16]
        self.start: _Start | None = None
        self.latest: _State | None = None  # the newest accepted state: what Commit commits
        self.pending: _State | None = None  # accepted, not rendered yet (at most one)
        self.skipped = 0  # states replaced in `pending` since the last preview
        self.input_done = False
        self.events: asyncio.Queue = asyncio.Queue()  # EditEvents to send; one per message or render
        self._wake = asyncio.Event()  # a state was put in `pending`, or the input ended

    async def run(self, requests: AsyncIterator[pb.EditRequest]) -> AsyncIterator[pb.EditEvent]:
        reader = asyncio.ensure_future(self._read(requests))
        renderer = asyncio.ensure_future(self._render_loop())
        try:
            while (event := await self.events.get()) is not _END:
                yield event
            await reader  # re-raises a failure of the request stream itself
        finally:  # the client went away (or the stream ended): stop both tasks
            for task in (reader, renderer):
                task.cancel()
            await asyncio.gather(reader, renderer, return_exceptions=True)

    # ------------------------------------------------------------------ reader

    async def _read(self, requests: AsyncIterator[pb.EditRequest]) -> None:
        try:
            async for req in requests:
                kind = req.WhichOneof("msg")
                try:
                    if kind == "start":
                        await self._on_start(req.start)
                    elif kind == "state":
                        self._on_state(req.state)
                    elif kind == "commit":
                        self._on_commit(req.commit)
                    else:
                        raise InvalidRequest("empty EditRequest: set start, state or commit")
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # a bad message is answered; the session stays open
                    self._error(e)
        finally:
            self.input_done = True
            self._wake.set()

    async def _on_start(self, msg: pb.EditStart) -> None:
        if self.start is not None:
            raise InvalidRequest("the session has already started; open a new EditSession to edit another face")
        validation.request_id(msg.request_id)
        rt = self.service.registry.get(msg.model)
        if not msg.HasField("dna"):
            raise InvalidRequest("start.dna is empty: give the DNA of the face to edit")
        ws = read_dna(msg.dna, rt.identity, "start.dna")
        output = validation.output(msg.output, rt.resolution, rt.sizes)
        image, _ = await render_one(self.service, rt, ws, output)
        self.start = _Start(rt, msg.dna, ws, output)
        self.events.put_nowait(pb.EditEvent(started=pb.EditStarted(session_id=self.session_id, image=image)))

    def _on_state(self, msg: pb.EditState) -> None:
        if self.start is None:
            raise InvalidRequest(f"state {msg.seq} came before a valid start: send EditStart with the face's DNA first")
        last = self.latest.seq if self.latest else 0
        if msg.seq <= last:
            raise InvalidRequest(f"state seq {msg.seq} is not after the last accepted seq {last}: "
                                 "number states 1, 2, 3, ... in the order they are sent")
        state = _State(msg.seq, plan_edit(self.start.rt, msg, self.start.output))
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
            ws = edited_ws(self.start.rt, self.start.ws, self.latest.plan)
            dna = derived_dna(self.start.rt, self.start.dna, ws, self.latest.plan.record())
        self.events.put_nowait(pb.EditEvent(committed=pb.EditCommitted(seq=msg.seq, dna=dna)))

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
                    self.events.put_nowait(pb.EditEvent(preview=await self._render(state, skipped)))
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # a backend failure fails this preview, not the session
                    log.exception("session %s: rendering state %d failed", self.session_id, state.seq)
                    self._error(e)
                if self.pending is not None or self.input_done:
                    self._wake.set()  # states arrived while rendering, or the input ended
        finally:
            self.events.put_nowait(_END)

    async def _render(self, state: _State, skipped: int) -> pb.Preview:
        t = time.perf_counter()
        ws = edited_ws(self.start.rt, self.start.ws, state.plan)
        image, timing = await render_one(self.service, self.start.rt, ws, state.plan.output,
                                         int((time.perf_counter() - t) * 1e6))
        return pb.Preview(seq=state.seq, image=image, timing=timing, skipped=skipped)

    def _error(self, exc: BaseException) -> None:
        self.events.put_nowait(pb.EditEvent(error=pb.ItemError(code=item_error_code(exc), message=str(exc) or type(exc).__name__)))
