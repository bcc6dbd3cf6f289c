"""The architectures of the shipped models, as data: a trainer builds a network from one of
these, and a bundle's manifest records the same numbers, so serving never needs this module."""
from __future__ import annotations

from dataclasses import replace

from .networks import GeneratorConfig

AVATARS64 = GeneratorConfig(
    z_dim=256, w_dim=256, resolution=64, mapping_layers=4,
    # The mapping is trained alone (train_mapping.py, which makes it a PartsMapping), not against
    # a moving synthesis network, so it does not need NVlabs' 100x slower learning rate.
    mapping_lr_multiplier=1.0,
    channels={4: 256, 8: 256, 16: 128, 32: 64, 64: 32},
)
ENCODER_CHANNELS = {64: 16, 32: 32, 16: 64, 8: 128, 4: 256}  # the encoder only has to name parts: keep it cheap

# avatars64 grown by one block (training/growing.py): every block below 128 px keeps avatars64's
# channels so its trained weights carry over. The 128 px block only adds detail (pupils, strings,
# outlines) and each of its channels costs 4x one at 64 px, so it gets few. Measured CPU seconds
# per reconstruction step (batch 16, one thread, a busy shared machine): avatars64 2.0; grown with
# 8 / 16 / 32 channels at 128 px 2.9 / 3.0 / 4.1. Below 16 the fixed 128 px costs (the encoder's
# new block, upsampling, losses) dominate, so 16 is as cheap as 8 and holds twice the detail.
TOP_CHANNELS_128 = 16
AVATARS128 = replace(AVATARS64, resolution=128, channels=AVATARS64.channels | {128: TOP_CHANNELS_128})
ENCODER_CHANNELS_128 = ENCODER_CHANNELS | {128: 8}

# Stage-1 trainers pick the architecture of their dataset's image size.
STAGE1_BY_RESOLUTION: dict[int, tuple[GeneratorConfig, dict[int, int]]] = {
    64: (AVATARS64, ENCODER_CHANNELS),
    128: (AVATARS128, ENCODER_CHANNELS_128),
}
