"""Read an NVlabs StyleGAN2-ADA network pickle without running anything it contains.

A pickle is a program: every GLOBAL it names is imported and every REDUCE calls it. NVlabs'
pickles make that explicit: each network module pickles as
`torch_utils.persistence._reconstruct_persistent_obj(meta)`, where `meta["module_src"]` is the
whole source file of the module's class, which the original loader `exec`s
(shared/research/models.md §1). So this unpickler resolves globals from an allow-list of
exactly what tensors, plain containers and those records need, and maps each one to a function
of ours that only builds data:

    torch._utils._rebuild_tensor_v2       -> a tensor over a storage (backward hooks refused)
    torch._utils._rebuild_parameter       -> the parameter's data as a plain tensor
    torch.storage._load_from_bytes        -> torch.load(weights_only=True) of the storage bytes
    collections.OrderedDict, builtins.set -> themselves (module state containers; protocol 2
                                             spells set as __builtin__.set)
    _codecs.encode                        -> str.encode("latin1") only (protocol 2's bytes)
    dnnlib.util.EasyDict                  -> a dict (config bags in `_init_kwargs`)
    torch_utils.persistence._reconstruct_persistent_obj
                                          -> PersistentRecord(class_name, state); the source
                                             string is hashed for the record, never compiled

Any other global is refused with `UnsafePickleError` naming it, before it is imported. Persistent
ids (torch.save's zip layout) are refused too: that format goes through torch.load instead.
"""
from __future__ import annotations

import collections
import hashlib
import io
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle needs something outside the allow-list (and could run code if loaded normally)."""


@dataclass
class PersistentRecord:
    """What an NVlabs persistent module pickled: its class name and its `__dict__`, inert."""

    class_name: str
    state: dict = field(repr=False)  # `_parameters`, `_buffers`, `_modules`, plain attributes
    source_sha256: str  # of the embedded module source, which is never executed
    version: int

    def __setstate__(self, state):  # a BUILD opcode aimed at a record is not part of the format
        raise UnsafePickleError("a pickle tried to set the state of a persistent record directly")


class ConfigDict(dict):
    """Stands in for `dnnlib.util.EasyDict`: the same items, no behaviour."""


def _persistent_record(meta) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise UnsafePickleError(f"a persistent object's metadata is not a class record: {type(meta).__name__}")
    name, src, state = meta.get("class_name"), meta.get("module_src"), meta.get("state")
    if not isinstance(name, str) or not isinstance(src, str) or not isinstance(state, dict):
        raise UnsafePickleError(f"persistent record {name!r} lacks a class name, source string or state dict")
    return PersistentRecord(name, dict(state), hashlib.sha256(src.encode()).hexdigest(), int(meta.get("version", 0)))


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise UnsafePickleError(f"a tensor was rebuilt over a {type(storage).__name__}, not a storage")
    if backward_hooks:
        raise UnsafePickleError("a tensor carries backward hooks (callables); weights never need them")
    t = torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, False, collections.OrderedDict())
    return t


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    if not isinstance(data, torch.Tensor):
        raise UnsafePickleError(f"a parameter was rebuilt from a {type(data).__name__}, not a tensor")
    if backward_hooks:
        raise UnsafePickleError("a parameter carries backward hooks (callables); weights never need them")
    return data


def _load_storage(data) -> torch.UntypedStorage:
    if not isinstance(data, (bytes, bytearray)):
        raise UnsafePickleError(f"storage bytes expected, got {type(data).__name__}")
    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


def _latin1_bytes(text, encoding="latin1") -> bytes:
    """Protocol 2 has no bytes opcode and writes bytes as _codecs.encode(str, 'latin1')."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"_codecs.encode is only allowed as protocol 2's latin1 bytes, got {encoding!r}")
    return text.encode("latin1")


ALLOWED_GLOBALS = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("collections", "OrderedDict"): collections.OrderedDict,
    # Protocols 2 and 3 (Python 3.7's default, when NVlabs trained) spell sets as a call;
    # protocol 2 writes Python 2's module name.
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
    ("_codecs", "encode"): _latin1_bytes,
    ("dnnlib.util", "EasyDict"): ConfigDict,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_record,
}


class AllowListUnpickler(pickle.Unpickler):
    def __init__(self, file, source_name: str):
        super().__init__(file)
        self.source_name = source_name

    def find_class(self, module: str, name: str):
        target = ALLOWED_GLOBALS.get((module, name))
        if target is None:
            raise UnsafePickleError(
                f"{self.source_name}: refusing global {module}.{name}: only tensors, plain containers and "
                "NVlabs persistence records are allowed (loading it normally could run code)"
            )
        return target

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.source_name}: persistent id {str(pid)[:60]!r} is not part of a network pickle")


def load_network_pickle(path: str | Path):
    """Unpickle `path` with the allow-list; the result holds tensors, containers and records."""
    path = Path(path)
    with open(path, "rb") as f:
        try:
            return AllowListUnpickler(f, path.name).load()
        except UnsafePickleError:
            raise
        except Exception as e:  # truncated or not a pickle at all
            raise UnsafePickleError(f"{path.name} is not a readable network pickle: {type(e).__name__}: {e}") from e
