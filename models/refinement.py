"""Refinement: optimise a W+ code from the encoder's guess so that it reconstructs the aligned
pictures better, within a step and time budget.

    ws = ws0 (the encoder's w on every layer), Adam on ws only (the generator stays frozen)
    loss = mean over pictures of  L1(synthesis(ws), picture)
                                + FEATURE_WEIGHT * L1 of the classifier's block activations
           + ANCHOR_WEIGHT * mean(((ws - ws0) / w_std)^2)
    stop after `steps` steps, or before the step that would end past `seconds`, or when the
    caller's `stop()` says so (its request was cancelled, or the server is shutting down)

The anchor keeps the code near the encoder's w, in the region where the model's directions
were fitted, so edits still work on a refined face; without it, W+ optimisation fits pixels
with codes far off the W manifold (Abdal et al., Image2StyleGAN; Tov et al., e4e). Several
pictures are fitted jointly: one code that explains them all. The feature loss uses the
bundle's own attribute classifier (no downloaded network); it is left out when there is none.
Deterministic for a given input and step count (no noise, fixed order).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

LEARNING_RATE = 0.01
FEATURE_WEIGHT = 0.1
ANCHOR_WEIGHT = 0.02


class _Adam:
    """Adam on one tensor, written out: torch.optim's first use imports enough of torch to take
    seconds, which a time-budgeted request cannot spend."""

    def __init__(self, x: torch.Tensor, lr: float = LEARNING_RATE, betas=(0.9, 0.999), eps: float = 1e-8):
        self.x, self.lr, self.b1, self.b2, self.eps = x, lr, betas[0], betas[1], eps
        self.m, self.v, self.t = torch.zeros_like(x), torch.zeros_like(x), 0

    @torch.no_grad()
    def step(self) -> None:
        g = self.x.grad
        self.t += 1
        self.m.mul_(self.b1).add_(g, alpha=1 - self.b1)
        self.v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
        m_hat = self.m / (1 - self.b1**self.t)
        v_hat = self.v / (1 - self.b2**self.t)
        self.x.sub_(self.lr * m_hat / (v_hat.sqrt() + self.eps))


@dataclass(frozen=True)
class Refined:
    ws: torch.Tensor  # float32 [num_ws, w_dim]
    steps: int  # steps taken
    seconds: float  # time spent
    loss_start: float
    loss_end: float


def refine(
    synthesis,  # models.networks.SynthesisNetwork, frozen
    ws0: torch.Tensor,  # float32 [num_ws, w_dim]: the start and anchor
    targets: torch.Tensor,  # float32 [K, 3, R, R] in [-1, 1]: the aligned pictures
    w_std: torch.Tensor,  # float32 [w_dim]: W's per-dimension std (the anchor's unit)
    steps: int,  # most steps to take
    seconds: float,  # time budget; a step that would end past it is not started
    classifier=None,  # models.attribute_classifier.AttributeClassifier for the feature loss, or None
    stop: Callable[[], bool] | None = None,  # checked before each step: True ends refinement there
) -> Refined:
    t0 = time.perf_counter()
    ws = ws0.clone().requires_grad_(True)
    adam = _Adam(ws)
    target_maps = None
    if classifier is not None:
        with torch.no_grad():
            target_maps = classifier.feature_maps(targets)[:-1]
    loss_start = loss_end = float("nan")
    done = 0
    slowest = 0.0
    while done < steps:
        t_step = time.perf_counter()
        if t_step - t0 + slowest > seconds or (stop is not None and stop()):
            break
        img = synthesis(ws[None].expand(len(targets), -1, -1))
        loss = F.l1_loss(img, targets)
        if target_maps is not None:
            maps = classifier.feature_maps(img)[:-1]
            loss = loss + FEATURE_WEIGHT * sum(F.l1_loss(m, t) for m, t in zip(maps, target_maps)) / len(maps)
        total = loss + ANCHOR_WEIGHT * ((ws - ws0) / w_std).pow(2).mean()
        ws.grad = None
        total.backward()
        adam.step()
        if done == 0:
            loss_start = float(loss.detach())
        loss_end = float(loss.detach())
        done += 1
        slowest = max(slowest, time.perf_counter() - t_step)
    return Refined(ws.detach(), done, time.perf_counter() - t0, loss_start, loss_end)
