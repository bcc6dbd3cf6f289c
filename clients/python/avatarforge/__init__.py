"""AvatarForge: StyleGAN2 character faces over gRPC. See README.md."""
