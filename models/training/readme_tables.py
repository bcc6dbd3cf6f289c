"""The README's model tables, made from a bundle's manifest so that they cannot drift from it.

    python -m avatarforge.models.training.readme_tables --model avatars64              print the tables
    python -m avatarforge.models.training.readme_tables --model avatars64 --write README.md
                      replace each <!-- avatars64 name --> ... <!-- /avatars64 name --> block in place

Blocks, each named after its model (the README has a section per model): `classifier-accuracy`,
`quality-table`, `directions-table`, `part-setting-controls` (only for a model with controls measured). tests/test_model_quality.py checks that the README's blocks
equal what this module makes from the committed manifests.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..bundle import DEFAULT_MODEL, read_manifest, resolve_bundle_path

# Each model's FD-ratio target, set by the issue that asked for it (whole-image features).
TARGET_FD_RATIO = {"avatars64": 1.5, "avatars128": 1.4}


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.0f} %"


def classifier_accuracy(manifest: dict) -> str:
    acc = manifest["classifier"]["heldout_accuracy"]
    ranked = sorted(((a, h) for h, a in acc.items() if a == a), reverse=True)  # NaN (never applies) left out
    return " · ".join(f"{h.replace('_', ' ')} {a:.2f}" for a, h in ranked)


def quality_table(manifest: dict) -> str:
    m = manifest["metrics"]
    fd, div = m["fd"], m["diversity"]
    # The target was set in a whole-image classifier's features; a classifier with a face trunk
    # keeps that trunk unchanged, so the target is judged there and the face is shown beside it.
    judged = fd.get("whole_image", fd)
    goal = TARGET_FD_RATIO.get(manifest["name"], 1.5)
    target = f"≤ {goal} — " + ("met" if judged["ratio"] <= goal else "**not met**")
    rows = [
        "| metric | value | target |",
        "| --- | --- | --- |",
        f"| Fréchet distance in classifier features, generated vs real | {fd['generated_vs_real']:.1f} | |",
        f"| same, real half vs real half (the floor) | {fd['real_vs_real']:.1f} | |",
        f"| ratio | **{fd['ratio']:.2f}** | {'' if 'whole_image' in fd else target} |",
    ]
    if "reconstruction_vs_real" in fd:
        rows.append(f"| same for the encoder's reconstructions of held-out faces (what the synthesis network draws at best) "
                    f"| {fd['reconstruction_vs_real']:.1f} (ratio {fd['reconstruction_ratio']:.2f}) | |")
    if "whole_image" in fd:
        for name, part in (("the whole-image trunk's features alone (the space the target was set in)", fd["whole_image"]),
                           ("the face trunk's features alone (eyes, brows, mouth, nose at twice the size)", fd["face"])):
            rec = f", reconstructions {part['reconstruction_ratio']:.2f}" if "reconstruction_ratio" in part else ""
            rows.append(f"| ratio in {name} | **{part['ratio']:.2f}**{rec} | {target if part is judged else ''} |")
    rows.append(f"| diversity (mean pairwise feature distance), generated / real | "
                f"{div['generated']:.1f} / {div['real']:.1f} ({div['ratio']:.2f}) | |")
    for head, c in m["coverage_targets"].items():
        name = head.replace("_", " ")
        if c["met"]:
            rows.append(f"| coverage ≥ 50 % of real share: {name} | met | every value |")
        else:
            below = ", ".join(v.lower() for v in c["below_half"])
            rows.append(f"| coverage ≥ 50 % of real share: {name} | below half: {below} | every value — **not met** |")
    return "\n".join(rows)


def directions_table(manifest: dict) -> str:
    rows = ["| direction | layers | default strength | success | other attributes unchanged | parts unchanged | |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for d in manifest.get("directions", []):
        if d.get("kind") != "supervised":
            continue
        layers = f"{d['layers'][0]}–{d['layers'][1] - 1}"
        rows.append(f"| `{d['name']}` | {layers} | {d['default_strength']:.2f} | {_pct(d['success'])} | {_pct(d['unchanged'])} | {_pct(d.get('parts_unchanged'))} | shipped |")
    for d in manifest.get("dropped_directions", []):
        reason = d["reason"].split(" at strength")[0] if d["success"] is not None else d["reason"].split(":")[0]
        rows.append(f"| `{d['name']}` | | | {_pct(d['success'])} | {_pct(d['unchanged'])} | {_pct(d.get('parts_unchanged'))} | dropped: {reason} |")
    return "\n".join(rows)


def controls_table(manifest: dict) -> str | None:
    """Set parts measured as the directions they stand in for (`part_setting_quality --control`);
    None for a model with none measured."""
    controls = manifest.get("part_setting", {}).get("controls")
    if not controls:
        return None
    rows = ["| control | set part | faces without it | success | other attributes unchanged |",
            "| --- | --- | ---: | ---: | ---: |"]
    for c in controls:
        part, _, value = c["set"].partition("=")
        rows.append(f"| `{c['attribute']}` | {part} = `{value}` | {c['faces']} | **{_pct(c['success'])}** | "
                    f"{_pct(c['unchanged'])} |")
    return "\n".join(rows)


BLOCKS = {"classifier-accuracy": classifier_accuracy, "quality-table": quality_table, "directions-table": directions_table,
          "part-setting-controls": controls_table}


def render_blocks(manifest: dict) -> dict[str, str]:
    """Every block of one model that its manifest has figures for, named `<model> <block>`
    (e.g. `avatars64 quality-table`)."""
    made = {f"{manifest['name']} {name}": make(manifest) for name, make in BLOCKS.items()}
    return {name: body for name, body in made.items() if body is not None}


def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    """Put each block's content between its <!-- name --> and <!-- /name --> markers."""
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- {name} -->\n)(?:.*?\n)?(<!-- /{name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"no <!-- {name} --> ... <!-- /{name} --> block to fill")
        text = pattern.sub(lambda m: m[1] + body + "\n" + m[2], text)
    return text


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--write", default=None, metavar="README", help="fill the marked blocks of this file in place")
    a = p.parse_args(argv)
    blocks = render_blocks(read_manifest(resolve_bundle_path(a.model)))
    if a.write:
        path = Path(a.write)
        path.write_text(replace_blocks(path.read_text(), blocks))
    else:
        for name, body in blocks.items():
            print(f"<!-- {name} -->\n{body}\n<!-- /{name} -->\n")


if __name__ == "__main__":
    main()
