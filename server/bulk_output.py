"""Where `avatarforge bulk` writes: a folder, or any fsspec URL (file://, s3://, gs://, abfs://,
simplecache::file://, ...), with the same file names and guarantees everywhere.

    FaceStore(url)                  one per process (the driver, each actor); fsspec picks the filesystem
      .complete(seeds, fmt)         seeds whose image and DNA are both there: one listing (the driver)
      .complete_among(seeds, fmt)   the same by asking per file: a batch's few seeds (an actor)
      .drawn_by(seed)               the generator sha256 a seed's stored DNA names
      .write(path, data)            the file appears whole or not at all
      .remove_leftovers()           temporary files of actors killed mid-write

Whole files: on a filesystem with a rename (a local or shared disk, SFTP, HDFS) each file is
written under a name unique to the writing process and renamed into place. On an object store a
rename is a copy and a delete, and needless: one put is atomic there (the object is visible
whole or not at all), so the file is put once under its own name.

Filesystems are URL-addressed and rebuilt in every process from the URL, so an actor finds the
store the driver made. `memory://` is refused: it lives inside one process, and the actors are
other processes. Object stores need their fsspec package (s3fs, gcsfs, adlfs) and credentials on
every worker, read the usual way (environment, config files, instance roles).
"""
from __future__ import annotations

import os
import posixpath
from pathlib import Path

import fsspec

from avatarforge.client import FILE_EXTENSIONS, FORMATS

# Protocols whose put is atomic and whose rename is a copy: written in one put.
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "oss", "oci", "r2"})
PART = ".part"


def output_url(out: str) -> str:
    """An --out that every process resolves alike: a plain path made absolute (actors run in
    other working directories); a URL kept as given. Raises ValueError for memory://."""
    if "://" not in out and "::" not in out:
        return str(Path(out).resolve())
    fs, _ = fsspec.core.url_to_fs(out)
    if "memory" in _protocols(fs):
        raise ValueError("memory:// is private to one process, and bulk's workers are other processes "
                         "(use a folder, file:// or an object store)")
    return out


class FaceStore:
    def __init__(self, url: str):
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.one_put = bool(OBJECT_STORES & set(_protocols(self.fs)))

    def face_paths(self, seed: int, fmt: str) -> tuple[str, str]:
        """(image, dna) paths of a seed, named as `avatarforge generate` names them."""
        return posixpath.join(self.root, f"seed{seed:06d}.{FILE_EXTENSIONS[FORMATS[fmt]]}"), self.dna_path(seed)

    def dna_path(self, seed: int) -> str:
        return posixpath.join(self.root, f"seed{seed:06d}.dna")

    def makedirs(self) -> None:
        self.fs.makedirs(self.root, exist_ok=True)

    def complete(self, seeds: list[int], fmt: str) -> set[int]:
        """The seeds whose image and DNA are both present (generate's resume rule), from one
        listing: a million seeds cost one directory read, not two million lookups."""
        self.fs.invalidate_cache(self.root)  # listings are cached per instance; files came since
        try:
            names = {posixpath.basename(p.rstrip("/")) for p in self.fs.ls(self.root, detail=False)}
        except FileNotFoundError:
            return set()
        return {s for s in seeds if all(posixpath.basename(p) in names for p in self.face_paths(s, fmt))}

    def drawn_by(self, seed: int) -> str:
        """The generator sha256 a seed's stored DNA names ("" when it cannot be read)."""
        from avatarforge.v1 import avatarforge_pb2 as pb

        try:
            return pb.CharacterDna.FromString(self.fs.cat_file(self.dna_path(seed))).generator_sha256
        except Exception:  # noqa: BLE001 - a damaged DNA vouches for nothing
            return ""

    def complete_among(self, seeds: list[int], fmt: str) -> set[int]:
        """As `complete`, asking for each file: a retried batch's few seeds on an actor."""
        return {s for s in seeds if all(self.fs.exists(p) for p in self.face_paths(s, fmt))}

    def write(self, path: str, data: bytes) -> None:
        """Write `data` whole. A file that already holds exactly these bytes is left alone: an
        actor killed between a seed's DNA and its image leaves the DNA, and the retry must not
        write it a second time."""
        if self.fs.exists(path) and self.fs.size(path) == len(data) and self.fs.cat_file(path) == data:
            return
        if self.one_put:
            self.fs.pipe_file(path, data)
            return
        tmp = f"{path}.{os.getpid()}{PART}"
        self.fs.pipe_file(tmp, data)
        self.fs.mv(tmp, path)

    def remove_leftovers(self) -> int:
        """Delete the temporary files of writers killed between write and rename; returns how
        many. Only safe once no writer runs: a live writer's file would go too."""
        stale = self.fs.glob(posixpath.join(self.root, f"seed*{PART}"))
        for path in stale:
            self.fs.rm_file(path)
        return len(stale)


def _protocols(fs) -> tuple[str, ...]:
    return (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
