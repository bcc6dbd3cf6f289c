"""Supervised edit directions and their measured quality.

    fit:        per attribute, a direction in W. Two ways:
                - fit_on="real" (the default, when the bundle has an encoder and the dataset
                  is at hand): training renders encoded into W with their exact labels; the
                  direction is the difference of the class means (faces with the attribute
                  minus faces without). The renderer draws every part independently, so the
                  other parts average out of both means and the difference is the attribute's
                  own displacement in W.
                - fit_on="generated" (InterFaceGAN's way): seeds FIT_SEEDS -> w -> render ->
                  classifier labels, and the unit normal of a logistic-regression boundary.
                  Generated parts are correlated and labels noisy, which a boundary handles.
                Why not the boundary on real faces too: its normal points where the classes
                separate best, often along thin directions of W, so a face needs 3-6 std of it
                before the classifier reads a change. On avatars64 v1.18000 (same faces, seeds,
                calibration and targets) the class-mean difference shipped 12 of 21 directions,
                the boundary 3 (sunglasses, skin_dark, clothes_red).
    calibrate:  on CALIBRATION_SEEDS, per candidate layer group, the smallest strength on a grid
                (in units of W's std along the direction) that makes the classifier see the
                attribute; keep the group with the fewest side effects among those that work.
                If side effects stay too high, try again with the most correlated other
                directions projected out (conditional direction).
    measure:    on EVALUATION_SEEDS (disjoint from both), success and unchanged at the chosen
                layers and strength; ship if both meet the targets, else record why not.
                `unchanged` counts the other attributes (attributes.ATTRIBUTES on heads the
                edit does not touch) whose presence stayed as it was; `parts_unchanged`, the
                stricter count of every other part's exact value, is measured and reported too.

All seeds are fixed, so a re-run on the same bundle gives the same directions and numbers.
Faces are untruncated (psi = 1), as in `avatarforge eval`.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from tqdm import tqdm

from ..export import to_uint8_nhwc
from .attributes import ATTRIBUTES, Attribute, LabelReader
from ..bundle import Bundle, sha256_file
from ..attribute_classifier import AttributeClassifier
from .quality_metrics import balanced_accuracy
from ..directions import Direction, as_range
from ..encoder import encode_images, load_bundle_encoder
from ..latent_ops import apply_direction, broadcast, condition_direction, named_layer_ranges
from ..latents import zs_from_seeds

FIT_SEEDS = range(0, 3000)
CALIBRATION_SEEDS = range(1_000_000, 1_000_400)
EVALUATION_SEEDS = range(2_000_000, 2_000_600)
# Eligible faces per calibration measurement. The weakest strength that passes is kept, so a
# small sample lets one pass on luck: on avatars128 v1.50000, 64 faces passed facial_hair at 2.12,
# which made 88 % of the 256 evaluation faces; 128 chose 3.18 (99 %) and lost no direction.
N_CALIBRATION = 128
N_EVALUATION = 256  # eligible faces per final measurement
MIN_EVALUATED = 200  # fewer eligible evaluation faces than this and a direction is not shipped
STRENGTH_GRID = (1.0, 1.5, 2.0, 3.0, 4.0, 5.5)  # in std of W along the direction
CANDIDATE_LAYERS = ("all", "coarse", "middle", "fine", "coarse+middle")
SUCCESS_TARGET, UNCHANGED_TARGET = 0.90, 0.85
CALIBRATION_SUCCESS = 0.95  # aim above the target on calibration faces, so evaluation keeps a margin
MIN_EXAMPLES = 20  # of each class among the fit faces, else no boundary is fitted
# A head the classifier gets wrong on real held-out faces more often than this cannot witness a
# side effect (its argmax flips on noise): it is left out of `unchanged`, and the derivation says so.
RELIABLE_ACCURACY = 0.60
# An attribute is only fitted if the classifier tells it apart on real held-out renders with at
# least this balanced accuracy (when the dataset is at hand): else success would measure noise.
ATTRIBUTE_ACCURACY = 0.85
N_REAL = 2000


@dataclass
class Faces:
    """Generated faces and what the classifier sees in them."""

    ws: torch.Tensor  # float32 [N, num_ws, w_dim]
    labels: np.ndarray  # int16 [N, heads]
    visible: np.ndarray  # bool [N, heads]


@dataclass
class Measurement:
    success: float  # share of eligible faces that have the attribute after the edit
    unchanged: float  # share of (face, other attribute) pairs whose presence did not change
    parts_unchanged: float  # share of (face, other visible head) pairs whose exact value did not change
    n: int  # eligible faces measured

    def meets_targets(self) -> bool:
        return self.success >= SUCCESS_TARGET and self.unchanged >= UNCHANGED_TARGET


@torch.no_grad()
def render(generator, ws: torch.Tensor, batch: int = 64) -> np.ndarray:
    """W+ [N, num_ws, w_dim] -> uint8 [N, H, W, 3], const noise (as served)."""
    out = [generator.synthesis(ws[i : i + batch], noise_mode="const") for i in range(0, len(ws), batch)]
    img = torch.cat(out) if out else torch.zeros(0, 3, generator.cfg.resolution, generator.cfg.resolution)
    return to_uint8_nhwc(img).numpy()


def look(generator, classifier: AttributeClassifier, reader: LabelReader, ws: torch.Tensor) -> Faces:
    labels, _ = classifier.predict(render(generator, ws))
    return Faces(ws, labels, reader.visible(labels))


def encode_real_faces(encoder, num_ws: int, reader: LabelReader, data, n: int) -> Faces:
    """The first n training renders, encoded into W, with their exact labels."""
    from . import dataset

    images, labels = dataset.load_split(data, "train")
    if images.shape[1] != encoder.resolution:
        raise ValueError(f"{data} holds {images.shape[1]} px renders and the model is {encoder.resolution} px: "
                         f"pass --data {dataset.default_folder(encoder.resolution)}")
    ws = broadcast(encode_images(encoder, images[:n], desc="encode real faces"), num_ws)
    return Faces(ws, labels[:n], reader.visible(labels[:n]))


@torch.no_grad()
def sample_faces(generator, classifier, reader, seeds, desc: str) -> Faces:
    parts = []
    for i in tqdm(range(0, len(seeds), 250), desc=desc, unit="x250 faces", leave=False):
        z = torch.from_numpy(zs_from_seeds(list(seeds[i : i + 250]), generator.cfg.z_dim))
        parts.append(look(generator, classifier, reader, broadcast(generator.mapping(z), generator.num_ws)))
    return Faces(torch.cat([p.ws for p in parts]), np.concatenate([p.labels for p in parts]), np.concatenate([p.visible for p in parts]))


def _logistic(x: torch.Tensor, y: torch.Tensor, l2: float, iterations: int) -> torch.Tensor:
    """Newton's method for class-balanced, ridge-penalised logistic regression.
    x: float64 [N, d+1] (last column ones: the intercept, not penalised); y: float64 [N] in {0, 1}.
    Returns beta [d+1]."""
    pos = y.mean().clamp(1e-6, 1 - 1e-6)
    weight = torch.where(y > 0, 0.5 / pos, 0.5 / (1 - pos)) / len(y)  # [N], each class weighs 1/2
    reg = torch.full((x.shape[1],), l2, dtype=x.dtype)
    reg[-1] = 0
    beta = torch.zeros(x.shape[1], dtype=x.dtype)
    for _ in range(iterations):
        p = torch.sigmoid(x @ beta)
        grad = x.t() @ (weight * (p - y)) + reg * beta
        hess = (x * (weight * p * (1 - p))[:, None]).t() @ x + torch.diag(reg)
        step = torch.linalg.solve(hess, grad)
        beta = beta - step
        if step.abs().max() < 1e-8:
            break
    return beta


def fit_linear_boundary(x: torch.Tensor, y: torch.Tensor, l2: float = 3e-3, trim: float = 0.03, iterations: int = 30) -> torch.Tensor:
    """Unit normal [d] of a linear boundary between faces with (y) and without an attribute.

    x: float [N, d]; y: bool [N]. Class-balanced logistic regression (a rare attribute such as
    pink hair still gets a boundary between the classes), by Newton's method: d is a few
    hundred, so no scikit-learn is needed. Two safeguards, each for a measured reason:
    - ridge (`l2`, relative to the mean variance of x): the mapping network leaves some
      directions of W almost unused; unpenalised, the normal puts weight there, where the data
      cannot pin it down and an edit leaves the face manifold;
    - trimming: labels come from a classifier that is sometimes wrong, and logistic regression
      is pulled far by confidently-wrong examples; the `trim` share of faces that the first fit
      puts furthest on the wrong side is dropped and the boundary refitted.
    """
    x, y = x.double(), y.double()
    l2 = l2 * float(x.var(0).mean())
    x = torch.cat([x - x.mean(0), torch.ones(len(x), 1, dtype=x.dtype)], 1)  # centred, plus intercept
    beta = _logistic(x, y, l2, iterations)
    if trim > 0:
        z = x @ beta
        wrongness = torch.where((z > 0) == (y > 0), torch.zeros_like(z), z.abs())
        n_drop = min(int(trim * len(y)), int((wrongness > 0).sum()))
        if n_drop:
            keep = torch.ones(len(y), dtype=torch.bool)
            keep[wrongness.topk(n_drop).indices] = False
            beta = _logistic(x[keep], y[keep], l2, iterations)
    normal = beta[:-1]
    return (normal / normal.norm()).float()


def fit_mean_difference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Unit vector [d] from the mean of faces without the attribute to the mean of faces with it.
    x: float [N, d]; y: bool [N] with both classes present. Float64 sums: N is tens of thousands."""
    x = x.double()
    v = x[y].mean(0) - x[~y].mean(0)
    return (v / v.norm()).float()


def classifier_accuracy(path) -> dict[str, float]:
    """Held-out accuracy per head, from the classifier file's own metadata ({} if it has none)."""
    if path is None:
        return {}
    with safe_open(str(path), "pt") as f:
        metrics = json.loads((f.metadata() or {}).get("metrics", "{}"))
    return {h: float(a) for h, a in metrics.get("heldout_accuracy", {}).items() if a == a}  # drop NaN


def attribute_accuracy(classifier, reader: LabelReader, data, attributes) -> dict[str, float]:
    """Balanced accuracy of each attribute as read by the classifier on real held-out renders
    (whose labels are exact); {} if the dataset is not at hand."""
    from . import dataset

    if data is None or not (Path(data) / "heldout.npz").is_file():
        return {}
    images, truth = dataset.load_split(data, "heldout")
    pred, _ = classifier.predict(images[:N_REAL])
    truth = truth[:N_REAL]
    out = {}
    for attr in attributes:
        i = reader.index[attr.head]
        codes = [reader.vocab[attr.head].index(v) for v in attr.values]
        real = (truth[:, i] != dataset.NOT_APPLICABLE) & np.isin(truth[:, i], codes)
        seen = reader.present(attr, pred, reader.visible(pred))
        if real.all() or not real.any():
            continue
        out[attr.name] = round(balanced_accuracy(seen, real), 4)
    return out


def layer_candidates(num_ws: int) -> dict[str, range]:
    named = named_layer_ranges(num_ws)
    named["coarse+middle"] = range(0, named["middle"].stop)
    return {k: named[k] for k in CANDIDATE_LAYERS if len(named[k])}


def measure(generator, classifier, reader, attr: Attribute, faces: Faces, vector, layers: range, strength: float,
            limit: int | None = None) -> Measurement:
    """Edit the eligible faces (the first `limit`) and compare what the classifier sees."""
    idx = np.flatnonzero(reader.eligible(attr, faces.labels, faces.visible))[:limit]
    if len(idx) == 0:
        return Measurement(0.0, 0.0, 0.0, 0)
    after = look(generator, classifier, reader, apply_direction(faces.ws[idx], vector, strength, layers))
    success = float(reader.present(attr, after.labels, after.visible).mean())
    before_after = (faces.labels[idx], faces.visible[idx], after.labels, after.visible)
    same, compared = reader.attributes_unchanged_counts(attr, ATTRIBUTES, *before_after)
    same_parts, compared_parts = reader.unchanged_counts(attr, *before_after)
    return Measurement(success, same / max(compared, 1), same_parts / max(compared_parts, 1), len(idx))


def calibrate(generator, classifier, reader, attr, faces: Faces, vector, sigma: float):
    """-> (layers name, layers, strength, Measurement) with success >= CALIBRATION_SUCCESS and the
    highest unchanged share; if no candidate gets there, the one with the highest success."""
    tried = []
    for name, layers in layer_candidates(generator.num_ws).items():
        def attempt(k: float) -> bool:
            m = measure(generator, classifier, reader, attr, faces, vector, layers, k * sigma, N_CALIBRATION)
            tried.append((name, layers, k * sigma, m))
            return m.success >= CALIBRATION_SUCCESS

        # The strongest edit first: a group that cannot do it at full strength is skipped after
        # one measurement. Otherwise bisect the grid (success grows with strength) for the
        # weakest strength that works: more strength only adds side effects.
        if not attempt(STRENGTH_GRID[-1]):
            continue
        lo, hi = 0, len(STRENGTH_GRID) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if attempt(STRENGTH_GRID[mid]):
                hi = mid
            else:
                lo = mid + 1
    working = [t for t in tried if t[3].success >= CALIBRATION_SUCCESS]
    if working:
        return max(working, key=lambda t: (t[3].unchanged, -t[2]))
    return max(tried, key=lambda t: (t[3].success, t[3].unchanged))


def _dropped(name: str, reason: str, m: Measurement | None = None) -> dict:
    return {"name": name, "reason": reason, "success": None if m is None else round(m.success, 4),
            "unchanged": None if m is None else round(m.unchanged, 4),
            "parts_unchanged": None if m is None else round(m.parts_unchanged, 4)}


def fit_directions(reader: LabelReader, fit: Faces, attributes, readable: dict[str, float], exact_labels: bool) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """One unit vector [w_dim] per attribute the classifier can read and the fit faces show
    often enough; the others come back as dropped entries with the reason. exact_labels: the
    fit faces are real renders (class-mean difference), else classifier-labelled generated
    faces (logistic boundary normal)."""
    fit_one = fit_mean_difference if exact_labels else fit_linear_boundary
    w = fit.ws[:, 0]  # [N, w_dim]: the fit faces are broadcast W codes
    vectors, dropped = {}, []
    for attr in attributes:
        if readable.get(attr.name, 1.0) < ATTRIBUTE_ACCURACY:
            dropped.append(_dropped(attr.name, f"the classifier reads it on real renders with balanced accuracy "
                                    f"{readable[attr.name]:.0%} < {ATTRIBUTE_ACCURACY:.0%}: the edit cannot be measured"))
            continue
        y = reader.present(attr, fit.labels, fit.visible)
        known = fit.visible[:, reader.index[attr.head]]  # fit only where the part can be seen
        n_pos, n_neg = int(y[known].sum()), int((~y[known]).sum())
        if min(n_pos, n_neg) < MIN_EXAMPLES:
            dropped.append(_dropped(attr.name, f"the classifier sees it on {n_pos} of {int(known.sum())} generated faces: "
                                    f"too few of one class (< {MIN_EXAMPLES}) to fit a boundary"))
            continue
        vectors[attr.name] = fit_one(w[torch.from_numpy(known)], torch.from_numpy(y[known]))
    return vectors, dropped


def tune(g, classifier, reader, attr: Attribute, vectors: dict, heads_of: dict, w_fit, cal: Faces, max_conditions: int):
    """Calibrate layers and strength; if side effects stay above target, retry with the other
    heads' most aligned directions projected out (InterFaceGAN's conditional editing) and keep
    whichever works better. -> (vector, layer group name, layers, strength, conditioned_on)."""
    v = vectors[attr.name]
    name, layers, strength, m = calibrate(g, classifier, reader, attr, cal, v, float((w_fit @ v).std()))
    if m.unchanged >= UNCHANGED_TARGET or not max_conditions:
        return v, name, layers, strength, ()
    aligned = sorted(((abs(float(v @ u)), n) for n, u in vectors.items() if heads_of[n] not in attr.touches), reverse=True)
    names = tuple(n for cos, n in aligned[:max_conditions] if cos > 0.1)
    if not names:
        return v, name, layers, strength, ()
    vc = condition_direction(v, [vectors[n] for n in names])
    cname, clayers, cstrength, cm = calibrate(g, classifier, reader, attr, cal, vc, float((w_fit @ vc).std()))
    if cm.unchanged > m.unchanged and (cm.success >= CALIBRATION_SUCCESS or cm.success >= m.success):
        return vc, cname, clayers, cstrength, names
    return v, name, layers, strength, ()


def derive(bundle: Bundle, classifier: AttributeClassifier, classifier_path=None, attributes=ATTRIBUTES,
           fit_seeds=FIT_SEEDS, max_conditions: int = 2, data=None,
           calibration_seeds=CALIBRATION_SEEDS, evaluation_seeds=EVALUATION_SEEDS, fit_on: str = "real") -> tuple[list[Direction], list[dict], dict]:
    """Fit, calibrate and measure every attribute's direction.

    data: dataset folder with heldout.npz, to check the classifier can read each attribute
          (and train.npz, to fit on real faces);
    fit_on: "real" (encoded training renders, exact labels; falls back to "generated" when the
          bundle has no encoder or the data is missing) or "generated" (classifier labels).
    Returns (shipped directions, dropped [{name, reason, success, unchanged}], derivation record).
    """
    t0 = time.time()
    g = bundle.generator
    accuracy = classifier_accuracy(classifier_path)
    unreliable = sorted(h for h, a in accuracy.items() if a < RELIABLE_ACCURACY)
    reader = LabelReader(classifier.vocab, ignore=unreliable)
    readable = attribute_accuracy(classifier, reader, data, attributes)
    encoder = load_bundle_encoder(bundle) if fit_on == "real" else None
    if encoder is not None and data is not None and (Path(data) / "train.npz").is_file():
        fit = encode_real_faces(encoder, g.num_ws, reader, data, len(fit_seeds))
    else:
        if fit_on == "real":  # said out loud: on avatars64 this ships 4 directions where real renders ship 12
            why = "the bundle has no encoder" if encoder is None else f"no training renders at {data} (train.npz)"
            print(f"directions: {why}, so they are fitted on generated faces with the classifier's labels, which ships "
                  "fewer; render the dataset (models/training/dataset.py, write_dataset) to fit on real renders",
                  file=sys.stderr)
        fit_on = "generated"
        fit = sample_faces(g, classifier, reader, fit_seeds, "fit faces")
    cal = sample_faces(g, classifier, reader, calibration_seeds, "calibration faces")
    ev = sample_faces(g, classifier, reader, evaluation_seeds, "evaluation faces")
    vectors, dropped = fit_directions(reader, fit, attributes, readable, exact_labels=fit_on == "real")
    heads_of = {a.name: a.head for a in attributes}
    shipped = []
    for attr in tqdm([a for a in attributes if a.name in vectors], desc="directions", unit="direction"):
        v, name, layers, strength, conditioned_on = tune(g, classifier, reader, attr, vectors, heads_of, fit.ws[:, 0], cal, max_conditions)
        final = measure(g, classifier, reader, attr, ev, v, layers, strength, N_EVALUATION)
        misses = [f"success {final.success:.1%} < {SUCCESS_TARGET:.0%}"] if final.success < SUCCESS_TARGET else []
        misses += [f"unchanged {final.unchanged:.1%} < {UNCHANGED_TARGET:.0%}"] if final.unchanged < UNCHANGED_TARGET else []
        if final.n < MIN_EVALUATED:
            dropped.append(_dropped(attr.name, f"only {final.n} evaluation faces lack it (< {MIN_EVALUATED})", final))
        elif misses:
            dropped.append(_dropped(attr.name, f"{' and '.join(misses)} at strength {strength:.3g} on layers {name} "
                                    f"({final.n} faces)", final))
        else:
            shipped.append(Direction(
                name=attr.name, vector=v, layers=as_range(layers, g.num_ws), kind="supervised",
                description=f"{attr.description} (layers: {name})",
                strength_range=(-1.5 * strength, 1.5 * strength), default_strength=strength,
                success=round(final.success, 4), unchanged=round(final.unchanged, 4),
                parts_unchanged=round(final.parts_unchanged, 4), conditioned_on=conditioned_on,
            ))
    derivation = {
        "method": ("difference of class means in W of real training renders encoded into W, with their exact labels; "
                   if fit_on == "real" else
                   "InterFaceGAN-style class-balanced logistic regression in W on attribute-classifier labels of generated faces; ")
                  + "layers and strength calibrated per direction; success/unchanged measured by the classifier on held-out seeds",
        "unchanged": "share of (face, other attribute) pairs whose presence the edit left as it was, over the attributes "
                     "on heads the edit does not touch; parts_unchanged: share of (face, other visible part) pairs "
                     "whose exact value stayed the same",
        "fit_on": fit_on,
        "generator_sha256": bundle.generator_sha256,
        "classifier_sha256": sha256_file(classifier_path) if classifier_path else None,
        "fit_seeds": [fit_seeds.start, fit_seeds.stop], "calibration_seeds": [calibration_seeds.start, calibration_seeds.stop],
        "evaluation_seeds": [evaluation_seeds.start, evaluation_seeds.stop], "n_calibration": N_CALIBRATION, "n_evaluation": N_EVALUATION, "psi": 1.0,
        "heads_ignored_in_unchanged": {h: round(accuracy[h], 3) for h in unreliable},
        "attribute_accuracy_on_real": readable or None,
        "targets": {"success": SUCCESS_TARGET, "unchanged": UNCHANGED_TARGET},
        "seconds": round(time.time() - t0),
    }
    return shipped, dropped, derivation
