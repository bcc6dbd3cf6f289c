"""A face's parts, read and set by name: GetParts, and the set_parts of editor states.

Which parts a face has (the base that set_parts changes, and what GetParts answers):
    a seed, or DNA of a seed at truncation 1 whose only edits are set parts
        -> the parts the mapping drew from the seed, with the recorded set parts applied: exact
    any other DNA (encoded, mixed, direction-edited, truncated)
        -> the attribute classifier's reading of its render (one render + one classifier pass,
           cached by DNA checksum, since an editor asks about the same start face repeatedly)
The math is models/part_setting.py; a set part is recorded in the DNA as "part/<part>/<VALUE>"
(strength 1), which is how a later reader knows a seed face's parts are still exact.

Why an RPC and not a field of every render reply: for a seed, reading parts is nearly free, but
for any other face it is a second network pass, which bulk Generate streams would pay on every
item while an editor needs the parts once, when it opens a face.
"""
from __future__ import annotations

import asyncio
import collections
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from avatarforge.models import latents
from avatarforge.models.part_setting import PartVocabulary, classify_parts, seed_parts
from avatarforge.v1 import avatarforge_pb2 as pb

from . import validation
from .dna import read_dna
from .errors import InvalidRequest
from .model_runtime import ModelRuntime
from .render_pipeline import RenderPipeline
from .scheduler import Priority

RECORD_PREFIX = "part/"
CACHE_FACES = 256  # classifier readings kept, by DNA checksum


def vocabulary_of(rt: ModelRuntime, where: str) -> PartVocabulary:
    if rt.parts is None:
        raise InvalidRequest(f"model {rt.bundle.name!r} does not draw faces from named parts (its mapping is not a parts "
                             "mapping, or it ships no classifier naming them), so it has no parts to read or set", where)
    return rt.parts


def check_set_parts(rt: ModelRuntime, set_parts, where: str = "set_parts") -> tuple[tuple[int, int], ...]:
    """[PartValue] -> ((part index, value index), ...): each part known, once, with a known value."""
    if not set_parts:
        return ()
    vocab = vocabulary_of(rt, where)
    out, seen = [], set()
    for i, pv in enumerate(set_parts):
        p = vocab.part_index(pv.part)
        if p is None:
            raise InvalidRequest(f"{where}[{i}].part: unknown part {pv.part!r}; model {rt.bundle.name!r} has: "
                                 f"{', '.join(vocab.names)}", f"{where}[{i}].part")
        if p in seen:
            raise InvalidRequest(f"{where}[{i}].part: part {vocab.names[p]!r} is set twice; a state sets each part once",
                                 f"{where}[{i}].part")
        seen.add(p)
        k = vocab.value_index(p, pv.value)
        if k is None:
            raise InvalidRequest(f"{where}[{i}].value: {pv.value!r} is not a value of {vocab.names[p]!r}; valid values: "
                                 f"{', '.join(vocab.values[vocab.names[p]])}", f"{where}[{i}].value")
        out.append((p, k))
    return tuple(out)


def part_records(vocab: PartVocabulary, set_parts: tuple[tuple[int, int], ...]) -> list[tuple[str, float]]:
    names = vocab.names
    return [(f"{RECORD_PREFIX}{names[p]}/{vocab.values[names[p]][k]}", 1.0) for p, k in set_parts]


def _recorded(vocab: PartVocabulary, edits) -> list[tuple[int, int]] | None:
    """The set parts a DNA's edit list records, or None when it records anything else."""
    out = []
    for e in edits:
        if not e.direction.startswith(RECORD_PREFIX):
            return None
        name, _, value = e.direction[len(RECORD_PREFIX):].partition("/")
        p = vocab.part_index(name)
        k = None if p is None else vocab.value_index(p, value)
        if k is None:
            return None
        out.append((p, k))
    return out


def exact_parts(rt: ModelRuntime, dna: pb.CharacterDna) -> np.ndarray | None:
    """int64 [num_parts] of a DNA whose parts the seed still decides, else None (see module doc)."""
    if rt.parts is None or not dna.HasField("seed") or (dna.HasField("truncation_psi") and dna.truncation_psi != 1.0):
        return None
    changes = _recorded(rt.parts, dna.edits)
    if changes is None:
        return None
    parts = parts_of_seed(rt, dna.seed)
    for p, k in changes:
        parts[p] = k
    return parts


def parts_of_seed(rt: ModelRuntime, seed: int) -> np.ndarray:
    z = torch.from_numpy(latents.zs_from_seeds([seed], rt.bundle.config.z_dim))
    return seed_parts(rt.bundle.generator.mapping, z)[0]


class PartReader:
    """Reads faces' parts for GetParts, RenderPreview and EditSession. The classifier runs on one
    worker thread of its own, never on the event loop."""

    def __init__(self, pipeline: RenderPipeline, max_items: int):
        self.pipeline = pipeline
        self.max_items = max_items
        self._cpu = ThreadPoolExecutor(1, thread_name_prefix="parts-cpu")
        self._cache: collections.OrderedDict[str, tuple[np.ndarray, np.ndarray]] = collections.OrderedDict()

    def close(self) -> None:
        self._cpu.shutdown(wait=False, cancel_futures=True)

    async def classify(self, rt: ModelRuntime, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 [N, H, W, 3] -> (parts int64 [N, num_parts], confidence float32 [N, num_parts])."""
        return await asyncio.get_running_loop().run_in_executor(self._cpu, classify_parts, rt.classifier, pixels)

    async def parts_of(self, rt: ModelRuntime, dna: pb.CharacterDna, ws: np.ndarray,
                       pixels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
        """One face -> (parts int64 [num_parts], confidence float32 [num_parts], PartsSource).
        `pixels` (uint8 [H, W, 3], its render) saves rendering it again when the caller has it."""
        exact = exact_parts(rt, dna)
        if exact is not None:
            return exact, np.ones(len(exact), np.float32), pb.PARTS_SOURCE_SEED
        hit = self._cache.get(dna.checksum)
        if hit is None:
            if pixels is None:
                images, _ = await self.pipeline.render_pixels(rt, ws[None], Priority.INTERACTIVE)
                pixels = images[0]
            parts, conf = await self.classify(rt, pixels[None])
            hit = self._cache[dna.checksum] = (parts[0], conf[0])
            while len(self._cache) > CACHE_FACES:
                self._cache.popitem(last=False)
        self._cache.move_to_end(dna.checksum)
        return hit[0], hit[1], pb.PARTS_SOURCE_CLASSIFIER

    async def get_parts(self, rt: ModelRuntime, request: pb.GetPartsRequest) -> pb.GetPartsResponse:
        rid = validation.request_id(request.request_id)
        vocab = vocabulary_of(rt, "model")
        chars = list(request.characters)
        if not chars:
            raise InvalidRequest("characters is empty: give the seeds or DNAs of the faces to read", "characters")
        validation.item_count(len(chars), self.max_items, "number of characters")
        faces = []
        for i, c in enumerate(chars):
            kind = c.WhichOneof("source")
            if kind == "seed":
                parts = parts_of_seed(rt, validation.seed(c.seed, f"characters[{i}].seed"))
                conf, source = np.ones(len(parts), np.float32), pb.PARTS_SOURCE_SEED
            elif kind == "dna":
                ws = read_dna(c.dna, rt.identity, f"characters[{i}].dna")
                parts, conf, source = await self.parts_of(rt, c.dna, ws)
            else:
                raise InvalidRequest(f"characters[{i}] is empty: set its seed or its dna", f"characters[{i}]")
            faces.append(pb.FaceParts(index=i, source=source, parts=[
                pb.ReadPart(part=name, value=value, confidence=float(cf))
                for (name, value), cf in zip(vocab.read(parts).items(), conf)]))
        return pb.GetPartsResponse(request_id=rid, faces=faces)
