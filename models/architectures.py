"""The architectures of the shipped models, as data: a trainer builds a network from one of
these, and a bundle's manifest records the same numbers, so serving never needs this module."""
from __future__ import annotations

from .networks import GeneratorConfig

AVATARS64 = GeneratorConfig(
    z_dim=256, w_dim=256, resolution=64, mapping_layers=4,
    # The mapping is trained alone (train_mapping.py, which makes it a PartsMapping), not against
    # a moving synthesis network, so it does not need NVlabs' 100x slower learning rate.
    mapping_lr_multiplier=1.0,
    channels={4: 256, 8: 256, 16: 128, 32: 64, 64: 32},
)
ENCODER_CHANNELS = {64: 16, 32: 32, 16: 64, 8: 128, 4: 256}  # the encoder only has to name parts: keep it cheap
