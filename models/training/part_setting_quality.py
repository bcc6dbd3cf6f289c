"""Measure set-part edits (models/part_setting.py) per head and value, on generated and encoded faces.

    python -m avatarforge.models.training.part_setting_quality --faces 256 --threads 1 --write README.md

Faces:
- generated: seeds 3,000,000.. ; their parts are the mapping's own (exact); set = MLP(parts').
- encoded: fresh renders of the dataset (seed 5, not a training or held-out seed) through the
  Encode path (alignment candidates, the encoder, the candidate the model reconstructs best:
  the functions server/encode_rpc.py calls); their parts are the classifier's reading of the
  reconstruction, as the server reads them; set = W + MLP(parts') - MLP(parts).
Each face is set to --values-per-face values of each head (face i gets values i, i+1, ... mod
the head's size), so every value is measured on about faces * K / values faces.

Success: the classifier reads the asked value, over faces whose asked parts show the head (hair
colour under a hat cannot be seen) and that did not have the value already. Others unchanged:
over (face, head) pairs of the classifier's reliable heads (held-out accuracy >= 85 %) that the
edit should not touch and that show before and after, the share read the same before and after
(attributes.LabelReader.unchanged_counts). The reader's ceiling: the classifier's recall of each
value on real renders (held-out seed 1), which bounds any success it can report.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from . import dataset
from .attributes import ATTRIBUTES, TOP_TOUCHES, Attribute, LabelReader
from .direction_fitting import EVALUATION_SEEDS, N_EVALUATION
from .encoding_quality import best_alignment, render
from .readme_tables import controls_table, replace_blocks
from ..alignment import Framing
from ..attribute_classifier import load_bundle_classifier
from ..bundle import load_bundle, update_manifest
from ..encoder import encode_images, load_bundle_encoder
from ..encoding_scores import reliable_heads
from ..latents import broadcast, zs_from_seeds
from ..part_setting import classify_parts, seed_parts, set_parts, with_changes

FIRST_SEED = 3_000_000
ENCODE_DATA_SEED = 5
CEILING_DATA_SEED = 1  # the held-out split's seed
# Heads an edit of the key may change on purpose: the top decides whether hair and hat colours
# show, facial hair whether its colour shows, clothing whether a graphic shows.
HEADS = {"hair_color": ("hair_color",), "top": TOP_TOUCHES, "skin_color": ("skin_color",), "accessory": ("accessory",),
         "clothing": ("clothing", "graphic"), "clothing_color": ("clothing_color",),
         "facial_hair": ("facial_hair", "facial_hair_color"), "mouth": ("mouth",)}
TARGET_SUCCESS, TARGET_UNCHANGED = 0.97, 0.90
# Shown by the drawing rule but not readable at 64 px: a bald head's hair colour is a faint
# shadow (the classifier reads it at chance), so success is not counted there.
UNREADABLE = {"hair_color": ("top", "NONE")}


def readable(head: str, heads: list[str], values: dict, parts: np.ndarray) -> np.ndarray:
    """bool [N]: faces with `parts` on which `head` can be read (see UNREADABLE)."""
    if head not in UNREADABLE:
        return np.ones(len(parts), bool)
    other, value = UNREADABLE[head]
    return parts[:, heads.index(other)] != values[other].index(value)


def visible(parts: np.ndarray) -> np.ndarray:
    """bool [N, heads]: which parts the drawing rule shows, for parts int [N, heads]."""
    return np.stack([dataset.mask_inapplicable(p.astype(np.int16)) != dataset.NOT_APPLICABLE for p in parts])


def render_all(g, ws: torch.Tensor, batch: int = 64) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([render(g, ws[i : i + batch]) for i in range(0, len(ws), batch)])


def encoded_faces(g, enc, clf, n: int, framing: Framing) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """(W+ [n, num_ws, w_dim], classifier parts of the reconstruction, true labels of the picture)."""
    truth = np.stack([dataset.sample_labels(ENCODE_DATA_SEED, i) for i in range(n)])
    pictures = [dataset.render_labels(t, g.cfg.resolution) for t in truth]
    with torch.no_grad():
        aligned = np.stack([best_alignment(g, enc, p, framing) for p in pictures])
        ws = broadcast(encode_images(enc, aligned), g.num_ws)
    parts, _ = classify_parts(clf, render_all(g, ws))
    return ws, parts, truth


def measure_set(g, clf, reader: LabelReader, ws: torch.Tensor, parts: np.ndarray, k: int) -> dict:
    """{head: {value: {success, n, unchanged, compared}}} for one set of faces."""
    heads = list(clf.vocab)
    before, _ = classify_parts(clf, render_all(g, ws))
    vis_before = reader.visible(before)
    out = {}
    for head, touches in HEADS.items():
        h, values = heads.index(head), clf.vocab[head]
        attr = Attribute(head, "", head, (), touches)
        jobs = [(i, (i + j) % len(values)) for i in range(len(ws)) for j in range(min(k, len(values)))]
        idx = np.array([i for i, _ in jobs])
        new = np.stack([with_changes(parts[i : i + 1], {h: v})[0] for i, v in jobs])
        after, _ = classify_parts(clf, render_all(g, set_parts(ws[idx], g.mapping, parts[idx], new)))
        shows = visible(new)[:, h] & readable(head, heads, clf.vocab, new)
        stats = {}
        for v, name in enumerate(values):
            sel = np.array([jv == v for _, jv in jobs])
            ok = sel & shows & (parts[idx, h] != v)
            same, compared = reader.unchanged_counts(attr, before[idx[sel]], vis_before[idx[sel]], after[sel],
                                                     reader.visible(after[sel]))
            stats[name] = {"success": int((after[ok, h] == v).sum()), "n": int(ok.sum()), "unchanged": same,
                           "compared": compared}
        out[head] = stats
        print(f"  {head}: {len(jobs)} edits", flush=True)
    return out


# The first N_EVALUATION of the seeds directions are measured on (direction_fitting)
CONTROL_SEEDS = EVALUATION_SEEDS[:N_EVALUATION]


def attribute_control(g, clf, reader: LabelReader, attribute: str, head: str, value: str) -> dict:
    """A set part measured as the direction it stands in for (`smile` by `mouth = SMILE`), on the
    directions' evaluation seeds and with their measures (`avatarforge directions --derive`):
    success is the share of faces without the attribute that have it after the part is set;
    unchanged, the share of (face, other attribute) pairs that stayed present or absent."""
    attr = next(a for a in ATTRIBUTES if a.name == attribute)
    z = torch.from_numpy(zs_from_seeds(CONTROL_SEEDS, g.cfg.z_dim))
    with torch.no_grad():
        ws = broadcast(g.mapping(z), g.num_ws)
    parts = seed_parts(g.mapping, z)
    new = with_changes(parts, {list(clf.vocab).index(head): clf.vocab[head].index(value)})
    before, _ = classify_parts(clf, render_all(g, ws))
    after, _ = classify_parts(clf, render_all(g, set_parts(ws, g.mapping, parts, new)))
    vis_before, vis_after = reader.visible(before), reader.visible(after)
    eligible = reader.eligible(attr, before, vis_before)
    success = reader.present(attr, after, vis_after)[eligible]
    same, compared = reader.attributes_unchanged_counts(attr, ATTRIBUTES, before[eligible], vis_before[eligible],
                                                        after[eligible], vis_after[eligible])
    return {"attribute": attribute, "set": f"{head}={value}", "faces": int(eligible.sum()), "seeds": [CONTROL_SEEDS.start, CONTROL_SEEDS.stop],
            "success": round(float(success.mean()), 4), "unchanged": round(same / compared, 4)}


def reader_ceiling(clf, n: int, res: int) -> dict:
    """{head: {value: recall}} of the classifier on n real held-out renders."""
    truth = np.stack([dataset.sample_labels(CEILING_DATA_SEED, i) for i in range(n)])
    read, _ = classify_parts(clf, np.stack([dataset.render_labels(t, res) for t in truth]))
    heads = list(clf.vocab)
    out = {}
    for head in HEADS:
        h = heads.index(head)
        ok = readable(head, heads, clf.vocab, truth)
        out[head] = {name: round(float((read[ok & (truth[:, h] == v), h] == v).mean()), 4)
                     if (ok & (truth[:, h] == v)).any() else None for v, name in enumerate(clf.vocab[head])}
    return out


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.0f} %"


def summary(measured: dict, ceiling: dict) -> dict:
    """Per head and value: success and unchanged for each set and both together, and the ceiling."""
    out = {}
    for head in HEADS:
        rows = {}
        for name in measured["generated"][head]:
            row = {}
            tot = {"success": 0, "n": 0, "unchanged": 0, "compared": 0}
            for kind in ("generated", "encoded"):
                s = measured[kind][head][name]
                tot = {key: tot[key] + s[key] for key in tot}
                row[kind] = {"success": round(s["success"] / s["n"], 4) if s["n"] else None, "n": s["n"],
                             "unchanged": round(s["unchanged"] / s["compared"], 4) if s["compared"] else None}
            row["all"] = {"success": round(tot["success"] / tot["n"], 4) if tot["n"] else None, "n": tot["n"],
                          "unchanged": round(tot["unchanged"] / tot["compared"], 4) if tot["compared"] else None}
            row["reader_recall_on_real"] = ceiling[head][name]
            rows[name] = row
        out[head] = rows
    return out


def head_totals(measured: dict) -> dict:
    """{head: {success, n, unchanged}} over every value and both sets."""
    out = {}
    for head in HEADS:
        t = {"success": 0, "n": 0, "unchanged": 0, "compared": 0}
        for kind in ("generated", "encoded"):
            for s in measured[kind][head].values():
                t = {key: t[key] + s[key] for key in t}
        out[head] = {"success": round(t["success"] / t["n"], 4) if t["n"] else None, "n": t["n"],
                     "unchanged": round(t["unchanged"] / t["compared"], 4) if t["compared"] else None}
    return out


def head_table(result: dict) -> str:
    lines = ["| part | values | success (n, both sets) | others unchanged | classifier recall on real renders (mean of values) "
             "| values meeting 97 % / 90 % |",
             "| --- | --- | --- | --- | --- | --- |"]
    for head, t in result["per_head"].items():
        rows = result["per_value"][head].values()
        met = sum(r["all"]["success"] is not None and r["all"]["success"] >= TARGET_SUCCESS
                  and (r["all"]["unchanged"] or 0) >= TARGET_UNCHANGED for r in rows)
        recall = [r["reader_recall_on_real"] for r in rows if r["reader_recall_on_real"] is not None]
        lines.append(f"| `{head}` | {len(rows)} | {_pct(t['success'])} ({t['n']}) | {_pct(t['unchanged'])} | "
                     f"{_pct(sum(recall) / len(recall))} | {met} of {len(rows)} |")
    return "\n".join(lines)


def table(result: dict) -> str:
    lines = ["| part | value | success, generated (n) | success, encoded (n) | others unchanged (gen / enc) "
             "| classifier recall on real renders | meets 97 % / 90 % |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for head, rows in result["per_value"].items():
        for name, r in rows.items():
            g, e, a = r["generated"], r["encoded"], r["all"]
            met = a["success"] is not None and a["success"] >= TARGET_SUCCESS and (a["unchanged"] or 0) >= TARGET_UNCHANGED
            lines.append(f"| `{head}` | `{name}` | {_pct(g['success'])} ({g['n']}) | {_pct(e['success'])} ({e['n']}) | "
                         f"{_pct(g['unchanged'])} / {_pct(e['unchanged'])} | {_pct(r['reader_recall_on_real'])} | "
                         f"{'yes' if met else 'no'} |")
    return "\n".join(lines)


def write_tables(result: dict, readme: Path, bundle) -> None:
    """Fill the README's part-setting blocks of this model (`<!-- avatars64 part-setting-table -->`)
    and store the result in the bundle's manifest."""
    readme.write_text(replace_blocks(readme.read_text(), {f"{bundle.name} part-setting-heads": head_table(result),
                                                          f"{bundle.name} part-setting-table": table(result)}))
    # Both sets together per value; the split by set stays in the run's JSON and the README.
    per_value = {head: {name: r["all"] | {"reader_recall_on_real": r["reader_recall_on_real"]} for name, r in rows.items()}
                 for head, rows in result["per_value"].items()}

    def store(manifest: dict) -> None:
        controls = manifest.get("part_setting", {}).get("controls")  # measured apart (--control): kept
        manifest["part_setting"] = {k: v for k, v in result.items() if k not in ("threads", "per_value")} | {"per_value": per_value}
        if controls:
            manifest["part_setting"]["controls"] = controls

    update_manifest(bundle.path, store)


def write_control(control: dict, readme: Path, bundle) -> None:
    """Keep a --control measurement in the bundle's manifest (one entry per set part, beside the
    part-setting figures) and fill the README's `<!-- NAME part-setting-controls -->` block."""
    def store(manifest: dict) -> None:
        kept = [c for c in manifest.setdefault("part_setting", {}).get("controls", []) if c["set"] != control["set"]]
        manifest["part_setting"]["controls"] = kept + [control]

    manifest = update_manifest(bundle.path, store)
    readme.write_text(replace_blocks(readme.read_text(), {f"{bundle.name} part-setting-controls": controls_table(manifest)}))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="avatars64")
    p.add_argument("--faces", type=int, default=256, help="faces in each set (generated, encoded)")
    p.add_argument("--values-per-face", type=int, default=6, help="values of each head set on each face")
    p.add_argument("--ceiling-renders", type=int, default=1000, help="real renders the classifier's recall is taken on")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("runs/part_setting.json"))
    p.add_argument("--write", default=None, metavar="README", help="fill its part-setting blocks and the manifest")
    p.add_argument("--from-json", type=Path, default=None, help="write the tables of a saved run instead of measuring")
    p.add_argument("--control", metavar="ATTRIBUTE=PART:VALUE", default=None,
                   help="measure only a set part as the direction it stands in for, as `directions --derive` "
                        "measures directions (e.g. smile=mouth:SMILE); with --write, kept in the manifest and its README "
                        "block (part-setting-controls) filled")
    a = p.parse_args(argv)
    if a.control:
        torch.set_num_threads(a.threads)
        bundle = load_bundle(a.model)
        clf = load_bundle_classifier(bundle)
        attribute, _, rest = a.control.partition("=")
        head, _, value = rest.partition(":")
        reader = LabelReader(clf.vocab, ignore=[h for h in clf.vocab if h not in reliable_heads(bundle.manifest)])
        control = attribute_control(bundle.generator.eval(), clf, reader, attribute, head, value)
        print(json.dumps(control))
        if a.write:
            write_control(control, Path(a.write), bundle)
        return
    if a.from_json is not None:
        result = json.loads(a.from_json.read_text())
        print(head_table(result) + "\n\n" + table(result))
        if a.write:
            write_tables(result, Path(a.write), load_bundle(a.model))
        return
    torch.set_num_threads(a.threads)
    t0 = time.time()
    bundle = load_bundle(a.model)
    g, enc, clf = bundle.generator.eval(), load_bundle_encoder(bundle), load_bundle_classifier(bundle)
    reliable = reliable_heads(bundle.manifest)
    reader = LabelReader(clf.vocab, ignore=[h for h in clf.vocab if h not in reliable])

    z = torch.from_numpy(zs_from_seeds(range(FIRST_SEED, FIRST_SEED + a.faces), g.cfg.z_dim))
    with torch.no_grad():
        gen_ws = broadcast(g.mapping(z), g.num_ws)
    gen_parts = seed_parts(g.mapping, z)
    enc_ws, enc_parts, truth = encoded_faces(g, enc, clf, a.faces, Framing.from_manifest(bundle.manifest))
    print(f"encoded {a.faces} renders in {time.time() - t0:.0f} s", flush=True)
    measured = {}
    for kind, ws, parts in (("generated", gen_ws, gen_parts), ("encoded", enc_ws, enc_parts)):
        print(kind, flush=True)
        measured[kind] = measure_set(g, clf, reader, ws, parts, a.values_per_face)
    heads = list(clf.vocab)
    read_right = {h: round(float(((enc_parts[:, i] == truth[:, i]) | (truth[:, i] < 0)).mean()), 4)
                  for i, h in enumerate(heads)}
    result = {"model": bundle.name, "version": bundle.version, "faces": a.faces, "values_per_face": a.values_per_face,
              "generated_seeds": [FIRST_SEED, FIRST_SEED + a.faces], "encoded_data_seed": ENCODE_DATA_SEED,
              "reliable_heads": reliable, "targets": {"success": TARGET_SUCCESS, "unchanged": TARGET_UNCHANGED},
              "encoded_parts_read_right": read_right,
              "per_head": head_totals(measured),
              "per_value": summary(measured, reader_ceiling(clf, a.ceiling_renders, g.cfg.resolution)),
              "threads": a.threads, "seconds": round(time.time() - t0)}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1))
    print(head_table(result) + "\n\n" + table(result))
    if a.write:
        write_tables(result, Path(a.write), bundle)
    print(f"done in {time.time() - t0:.0f} s; {a.out}")


if __name__ == "__main__":
    main()
