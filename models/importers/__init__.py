"""Importers of StyleGAN2 checkpoints trained elsewhere (NVlabs pickles, rosinality .pt files)
into bundles. Serving-side code: nothing here imports avatarforge.models.training."""
