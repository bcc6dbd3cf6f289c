"""A face's parts, read and set exactly, for generators whose mapping is a PartsMapping
(z -> parts, one-hot -> MLP -> w; models/networks.py).

    parts of a seed:   parts_one_hot(z), as the mapping drew them: exact
    parts of a face:   the attribute classifier's reading of its render (any W+: edited,
                       mixed, encoded); its heads are the same parts, in the same order
    set parts:         W+' = W+ + (MLP(parts') - MLP(parts)) on every layer

Setting by difference is exact for a generated face: its W+ is MLP(parts) broadcast, plus
whatever edits were added after (directions add, so they stay). For an encoded face W+ is the
encoder's code, which stage 2 taught the MLP to regress from the face's parts (1.4 % held-out
error), so the same difference moves it by what the change of parts means at those parts; the
MLP is not additive (hair colour under a hat means nothing), which is why the difference is
taken at the face's own parts rather than as one global direction per value.

Parts are int64 indices [N, num_parts] (value k of part i), the classifier's label encoding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .networks import PartsMapping


@dataclass(frozen=True)
class PartVocabulary:
    """Part names and their values, in the mapping's one-hot column order."""

    values: dict[str, tuple[str, ...]]

    @property
    def names(self) -> list[str]:
        return list(self.values)

    def part_index(self, name: str) -> int | None:
        """Index of a part by name (case-insensitive), or None."""
        lookup = {p.lower(): i for i, p in enumerate(self.values)}
        return lookup.get(name.strip().lower())

    def value_index(self, part: int, name: str) -> int | None:
        """Index of a value of part `part` by name (case-insensitive), or None."""
        lookup = {v.lower(): k for k, v in enumerate(self.values[self.names[part]])}
        return lookup.get(name.strip().lower())

    def read(self, parts: np.ndarray) -> dict[str, str]:
        """One face's parts int [num_parts] -> {part: value}."""
        return {p: vals[int(k)] for (p, vals), k in zip(self.values.items(), parts)}


def vocabulary(mapping, classifier_vocab: dict[str, list[str]] | None) -> PartVocabulary | None:
    """The vocabulary of a model whose mapping draws parts, named by its classifier's heads, or
    None when the mapping is not a PartsMapping or the heads do not match its parts one to one
    (then no name could be trusted to mean the column it would set)."""
    if not isinstance(mapping, PartsMapping) or not classifier_vocab:
        return None
    counts = (mapping.part_offsets[1:] - mapping.part_offsets[:-1]).tolist()
    if [len(v) for v in classifier_vocab.values()] != counts:
        return None
    return PartVocabulary({p: tuple(v) for p, v in classifier_vocab.items()})


def seed_parts(mapping: PartsMapping, z: torch.Tensor) -> np.ndarray:
    """z float32 [N, z_dim] -> the parts the mapping draws from it, int64 [N, num_parts]."""
    one_hot = mapping.parts_one_hot(z)
    off = mapping.part_offsets.tolist()
    return np.stack([one_hot[:, a:b].argmax(1).numpy() for a, b in zip(off[:-1], off[1:])], 1).astype(np.int64)


def one_hot(mapping: PartsMapping, parts: np.ndarray) -> torch.Tensor:
    """Parts int [N, num_parts] -> one-hot float32 [N, num_values] (the MLP's input)."""
    cols = torch.from_numpy(np.asarray(parts, np.int64)) + mapping.part_offsets[:-1]
    out = torch.zeros(len(cols), mapping.num_values)
    return out.scatter_(1, cols, 1.0)


def with_changes(parts: np.ndarray, changes: dict[int, int]) -> np.ndarray:
    """Parts int [N, num_parts] with part i set to value changes[i] on every face (a copy)."""
    out = np.array(parts, np.int64, copy=True)
    for i, k in changes.items():
        out[:, i] = k
    return out


@torch.no_grad()
def part_change(mapping: PartsMapping, parts: np.ndarray, new_parts: np.ndarray) -> torch.Tensor:
    """MLP(new_parts) - MLP(parts): float32 [N, w_dim], zero rows where nothing changed."""
    both = mapping.from_parts(one_hot(mapping, np.concatenate([parts, new_parts])))
    delta = both[len(parts):] - both[: len(parts)]
    same = torch.from_numpy((np.asarray(parts) == np.asarray(new_parts)).all(1))
    return delta.masked_fill(same[:, None], 0.0)  # exactly no change, not float noise


def set_parts(ws: torch.Tensor, mapping: PartsMapping, parts: np.ndarray, new_parts: np.ndarray) -> torch.Tensor:
    """W+ float32 [N, num_ws, w_dim] of faces with `parts` -> the W+ of the same faces with
    `new_parts` (both int [N, num_parts]): the MLP's difference added on every layer."""
    return ws + part_change(mapping, parts, new_parts)[:, None, :]


@torch.no_grad()
def classify_parts(classifier, images_u8: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, H, W, 3] -> (parts int64 [N, heads], confidence float32 [N, heads]: the softmax
    probability of the value read)."""
    parts, conf = [], []
    for i in range(0, len(images_u8), batch):
        x = torch.from_numpy(images_u8[i : i + batch]).permute(0, 3, 1, 2).float() / 127.5 - 1
        probs = [logits.softmax(1) for logits in classifier(x).values()]
        p, k = zip(*[pr.max(1) for pr in probs])
        parts.append(torch.stack(k, 1).numpy())
        conf.append(torch.stack(p, 1).numpy())
    return np.concatenate(parts).astype(np.int64), np.concatenate(conf).astype(np.float32)
