"""SeFa (Shen & Zhou, "Closed-Form Factorization of Latent Semantics in GANs"): directions in W
read straight off the generator's weights, no data, no training.

Every synthesis layer turns w into styles with an affine map `styles = A w + b`. The unit
vectors n that change the styles most (max ||A n||) are the eigenvectors of AᵀA with the
largest eigenvalues; stacking the affines of several layers gives directions that matter to
that group of layers. As in the reference implementation, each style channel's row of A is
normalised first, so wide layers (many channels) do not outvote narrow ones by size alone.

Cheap enough to compute when a bundle loads (one w_dim x w_dim eigendecomposition), so SeFa
components are never stored: they cannot go stale when the generator changes.
"""
from __future__ import annotations

import torch

from .latent_ops import LayerSpec, layer_indices
from .networks import FullyConnectedLayer, SynthesisNetwork


def affines_by_ws_index(synthesis: SynthesisNetwork) -> list[list[FullyConnectedLayer]]:
    """For each W+ index, the affine layers that read it (the same walk as SynthesisNetwork.forward:
    a block's ToRGB shares its W+ index with the next block's upsampling conv)."""
    readers: list[list[FullyConnectedLayer]] = [[] for _ in range(synthesis.num_ws)]
    w_idx = 0
    for res in synthesis.block_resolutions:
        block = getattr(synthesis, f"b{res}")
        convs = [block.conv1] if block.is_first else [block.conv0, block.conv1]
        for j, conv in enumerate(convs):
            readers[w_idx + j].append(conv.affine)
        readers[w_idx + block.num_conv].append(block.torgb.affine)
        w_idx += block.num_conv
    return readers


def affine_weight(layer: FullyConnectedLayer) -> torch.Tensor:
    """The effective (equalized-lr scaled) weight [out_channels, w_dim] the layer multiplies w by."""
    return (layer.weight * layer.weight_gain).detach().double()


@torch.no_grad()
def sefa_components(synthesis: SynthesisNetwork, layers: LayerSpec = None, k: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k SeFa directions for the given W+ layers.

    Returns (vectors float32 [k, w_dim], unit and mutually orthogonal, strongest first;
    eigenvalues float32 [k], how much each moves the styles). The sign of each vector is fixed
    (largest-magnitude entry positive) so component i means the same thing on every machine.
    """
    indices = layer_indices(layers, synthesis.num_ws)
    if not 1 <= k <= synthesis.w_dim:
        raise ValueError(f"k must be in [1, {synthesis.w_dim}], got {k}")
    readers = affines_by_ws_index(synthesis)
    a = torch.cat([affine_weight(layer) for i in indices for layer in readers[i]])  # [sum channels, w_dim]
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    eigenvalues, eigenvectors = torch.linalg.eigh(a.t() @ a)  # ascending; columns are unit vectors
    order = eigenvalues.argsort(descending=True)[:k]
    vectors = eigenvectors[:, order].t()  # [k, w_dim]
    signs = torch.sign(vectors.gather(1, vectors.abs().argmax(1, keepdim=True)))
    return (vectors * signs).float(), eigenvalues[order].float()
