"""`avatarforge directions`: list a model's edit directions, or (re-)derive the supervised ones.

    avatarforge directions --model avatars64            name, kind, layers, strength, measured success/unchanged
    avatarforge directions --model avatars64 --derive   fit, calibrate and measure (fixed seeds), write
                                                        directions.safetensors + manifest into the bundle
    python -m avatarforge.models.training.directions_command ...         the same without the CLI

Supervised directions are fitted on encoded real renders (class-mean difference) or on
classifier-labelled generated faces (InterFaceGAN's boundary), and measured with the bundle's
attribute classifier (see direction_fitting.py); SeFa ones (`sefa/0..k-1`) are computed from
the weights on every load.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..bundle import DEFAULT_MODEL, BundleError, load_bundle, resolve_bundle_path
from . import dataset
from .classifier import load_classifier
from .direction_fitting import FIT_SEEDS, derive
from ..directions import Direction, load_directions, save_directions

DESCRIPTION = __doc__
CLASSIFIER_FILE = "classifier.safetensors"


def derive_into_bundle(model: str | Path, classifier: str | Path | None = None, n_fit: int = len(FIT_SEEDS),
                       data: str | Path | None = None, fit_on: str = "real"):
    """Derive the supervised directions of a bundle and write them into it (replacing old ones).

    classifier: the attribute classifier to label faces with (default: the bundle's own);
    data: the dataset whose training renders the directions are fitted on and whose held-out renders show
          which attributes the classifier can read (default: data/avatars<the model's resolution>).
    Returns (shipped directions, dropped [{name, reason, ...}], derivation record).
    """
    b = load_bundle(model)
    data = data or dataset.default_folder(b.config.resolution)
    classifier_path = Path(classifier) if classifier else b.file_path(CLASSIFIER_FILE)
    shipped, dropped, derivation = derive(b, load_classifier(classifier_path), classifier_path, fit_seeds=range(n_fit),
                                          data=data, fit_on=fit_on)
    save_directions(b.path, shipped, dropped, derivation)
    return shipped, dropped, derivation


def _pct(x) -> str:
    return "   -" if x is None else f"{100 * x:3.0f}%"


def table(directions: dict[str, Direction], dropped: list[dict]) -> list[str]:
    lines = [f"{'name':16s} {'kind':10s} {'layers':7s} {'default':>8s} {'range':>17s} {'success':>7s} {'unchanged':>9s}  description"]
    for d in directions.values():
        lo, hi = d.strength_range
        lines.append(f"{d.name:16s} {d.kind:10s} {d.layers.start:>2d}-{d.layers.stop - 1:<4d} {d.default_strength:8.3g} "
                     f"[{lo:7.3g}, {hi:7.3g}] {_pct(d.success):>7s} {_pct(d.unchanged):>9s}  {d.description}")
    if dropped:
        lines.append(f"dropped ({len(dropped)}):")
        lines += [f"  {x['name']:16s} {x['reason']}" for x in dropped]
    return lines


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help="bundle name (in models/zoo) or path")
    p.add_argument("--derive", action="store_true", help="re-derive the supervised directions and write them into the bundle")
    p.add_argument("--classifier", default=None, metavar="PATH", help="attribute classifier for --derive (default: the bundle's)")
    p.add_argument("--data", default=None, help="dataset with train.npz and heldout.npz: the renders directions are fitted "
                   "on and which attributes the classifier can read (default: data/avatars<the model's resolution>)")
    p.add_argument("--fit", type=int, default=len(FIT_SEEDS), metavar="N", help="faces to fit boundaries on")
    p.add_argument("--fit-on", choices=("real", "generated"), default="real",
                   help="real: training renders encoded into W, exact labels (needs the bundle's encoder and --data); "
                        "generated: seeds 0..N-1 labelled by the classifier (InterFaceGAN)")
    p.add_argument("--sefa", type=int, default=10, metavar="K", help="SeFa components to list")
    p.add_argument("--json", action="store_true", help="print the directions as JSON")
    p.add_argument("--threads", type=int, default=2, help="torch threads (the work is CPU-bound)")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except (BundleError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    if args.derive:
        shipped, dropped, derivation = derive_into_bundle(args.model, args.classifier, args.fit, args.data, args.fit_on)
        print(f"derived {len(shipped)} directions ({len(dropped)} dropped) in {derivation['seconds']} s "
              f"into {resolve_bundle_path(args.model)}", file=sys.stderr)
    b = load_bundle(args.model)
    directions = load_directions(b, sefa_k=args.sefa)
    dropped = b.manifest.get("dropped_directions", [])
    if args.json:
        print(json.dumps({"directions": [d.manifest_entry() for d in directions.values()], "dropped_directions": dropped}, indent=1))
    else:
        print("\n".join(table(directions, dropped)))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m avatarforge.models.training.directions_command", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
