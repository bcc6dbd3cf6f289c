"""Binary attributes for supervised edit directions, defined on the attribute classifier's labels.

An attribute is "present" when its head is visible (e.g. hair colour needs a top that shows hair)
and the head's value is one of a group (e.g. hair_color in {BLONDE, BLONDE_GOLDEN}). `touches`
names the heads the edit is meant to change. An edit's `unchanged` share counts the other
attributes (those on untouched heads) whose presence the edit left as it was; `parts_unchanged`
is stricter and counts every untouched visible head whose exact value stayed the same.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import dataset


@dataclass(frozen=True)
class Attribute:
    name: str  # the direction's name in the bundle
    description: str
    head: str  # classifier head the attribute is read from
    values: tuple[str, ...]  # present when the head's value is one of these
    touches: tuple[str, ...]  # heads the edit may change on purpose (not collateral)


def _colour_groups(prefix: str, head: str, what: str, groups: dict[str, tuple[str, ...]], touches: tuple[str, ...]):
    return [Attribute(f"{prefix}_{g}", f"{what}: {g.replace('_', ' ')} ({', '.join(v.lower() for v in vals)})", head, vals, touches)
            for g, vals in groups.items()]


LONG_TOPS = ("BIG_HAIR", "BOB", "CURLY", "CURVY", "DREADS", "FRIDA", "LONG_NOT_TOO_LONG", "MIA_WALLACE", "SHAVED_SIDES",
             "STRAIGHT_1", "STRAIGHT_2", "STRAIGHT_STRAND", "BRAIDS", "LONG_HAIR_CURLY", "LOOSE_HAIR", "TWIST_LONG_HAIR",
             "TWIST_LONG_HAIR_2")
HAT_TOPS = ("HAT", "HAT_HAT", "HAT_HIJAB", "HAT_TURBAN", "HAT_WINTER_HAT_1", "HAT_WINTER_HAT_2", "HAT_WINTER_HAT_3",
            "HAT_WINTER_HAT_4", "HAT_CHEF_CAP", "HAT_JEDI", "HAT_GLADIATOR_HELMET")
# The top decides which other parts are visible (a hat hides hair colour), so edits of the top
# may change those heads' visibility on purpose.
TOP_TOUCHES = ("top", "hair_color", "hat_color")

ATTRIBUTES: list[Attribute] = [
    Attribute("smile", "smiling mouth (smile, big smile)", "mouth", ("SMILE", "BIG_SMILE"), ("mouth",)),
    Attribute("open_mouth", "open mouth (big smile, scream, disbelief, tongue, eating, vomit)", "mouth",
              ("BIG_SMILE", "SCREAM_OPEN", "DISBELIEF", "TONGUE", "EATING", "VOMIT"), ("mouth",)),
    Attribute("glasses", "clear glasses (prescription, round)", "accessory", ("PRESCRIPTION_1", "PRESCRIPTION_2", "ROUND"), ("accessory",)),
    Attribute("sunglasses", "sunglasses (sunglasses, wayfarers, kurt)", "accessory",
              ("SUNGLASSES", "SUNGLASSES_2", "WAYFARERS", "WAYFARERS_2", "KURT"), ("accessory",)),
    Attribute("facial_hair", "beard or moustache", "facial_hair",
              ("BEARD_LIGHT", "BEARD_MAGESTIC", "BEARD_MEDIUM", "MOUSTACHE_FANCY", "MOUSTACHE_MAGNUM", "EINSTEIN_MOUSTACHE", "WICK_BEARD"),
              ("facial_hair", "facial_hair_color")),
    Attribute("beard", "full beard (light, medium, majestic)", "facial_hair", ("BEARD_LIGHT", "BEARD_MEDIUM", "BEARD_MAGESTIC"),
              ("facial_hair", "facial_hair_color")),
    Attribute("long_hair", "long hair", "top", LONG_TOPS, TOP_TOUCHES),
    Attribute("hat", "hat, cap, hijab or turban", "top", HAT_TOPS, TOP_TOUCHES),
    Attribute("bald", "no hair and no hat", "top", ("NONE",), TOP_TOUCHES),
    *_colour_groups("hair", "hair_color", "hair colour", {
        "blonde": ("BLONDE", "BLONDE_GOLDEN"), "black": ("BLACK", "BROWN_DARK"), "brown": ("BROWN", "AUBURN"),
        "red": ("RED",), "gray": ("SILVER_GRAY", "PLATINUM"), "pink": ("PASTEL_PINK",)}, ("hair_color",)),
    Attribute("skin_dark", "darker skin (brown, dark brown, black)", "skin_color", ("BROWN", "DARK_BROWN", "BLACK"), ("skin_color",)),
    Attribute("skin_light", "lighter skin (pale, light)", "skin_color", ("PALE", "LIGHT"), ("skin_color",)),
    *_colour_groups("clothes", "clothing_color", "clothing colour", {
        "dark": ("BLACK", "GRAY_02", "BLUE_03"), "blue": ("BLUE_01", "BLUE_02", "PASTEL_BLUE"), "red": ("RED", "PINK"),
        "light": ("WHITE", "GRAY_01", "HEATHER"), "green": ("PASTEL_GREEN",), "yellow": ("PASTEL_YELLOW", "PASTEL_ORANGE")},
        ("clothing_color",)),
]


class LabelReader:
    """Reads attributes off classifier labels int16 [N, heads] whose vocab is `vocab`."""

    def __init__(self, vocab: dict[str, list[str]], ignore=()):
        """`ignore`: heads left out of `unchanged` (ones the classifier cannot read reliably)."""
        if list(vocab) != dataset.heads():
            raise ValueError(f"classifier heads {list(vocab)} do not match the dataset's {dataset.heads()}")
        self.vocab = vocab
        self.index = {h: i for i, h in enumerate(vocab)}
        self.ignore = frozenset(ignore)

    def visible(self, labels: np.ndarray) -> np.ndarray:
        """bool [N, heads]: which parts can be seen, given the predicted top, facial hair and clothing
        (the dataset's own rule), so a hat colour guessed on a bare head is never compared."""
        return np.stack([dataset.mask_inapplicable(row) != dataset.NOT_APPLICABLE for row in labels]) if len(labels) \
            else np.zeros((0, len(self.vocab)), bool)

    def present(self, attr: Attribute, labels: np.ndarray, visible: np.ndarray) -> np.ndarray:
        """bool [N]: the attribute is visible and has one of its values."""
        i = self.index[attr.head]
        codes = [self.vocab[attr.head].index(v) for v in attr.values]
        return visible[:, i] & np.isin(labels[:, i], codes)

    def eligible(self, attr: Attribute, labels: np.ndarray, visible: np.ndarray) -> np.ndarray:
        """bool [N]: faces an "add this" edit is measured on: the head is visible, the attribute absent."""
        return visible[:, self.index[attr.head]] & ~self.present(attr, labels, visible)

    def attributes_unchanged_counts(self, attr: Attribute, attributes, before: np.ndarray, vis_before: np.ndarray,
                                    after: np.ndarray, vis_after: np.ndarray) -> tuple[int, int]:
        """(unchanged, compared) over (face, other attribute) pairs: every attribute of `attributes`
        on a head the edit should not touch (and the classifier can read) is present before and
        after, or absent before and after. This is the side effect a player sees ("adding
        sunglasses also gave a beard"); a 64 px face whose mouth the classifier reads as SERIOUS
        instead of DEFAULT after the edit changes a part but no attribute."""
        others = [o for o in attributes if o.head not in attr.touches and o.head not in self.ignore]
        same = sum(int((self.present(o, before, vis_before) == self.present(o, after, vis_after)).sum()) for o in others)
        return same, len(others) * len(before)

    def unchanged_counts(self, attr: Attribute, before: np.ndarray, vis_before: np.ndarray,
                         after: np.ndarray, vis_after: np.ndarray) -> tuple[int, int]:
        """(unchanged, compared) over (face, head) pairs: heads the edit should not touch,
        visible before and after. A part that appears or disappears (a beard grown by a smile
        edit) shows up as a change of the head that decides visibility."""
        others = np.array([h not in attr.touches and h not in self.ignore for h in self.vocab])
        compared = vis_before & vis_after & others[None, :]
        return int((compared & (before == after)).sum()), int(compared.sum())
