"""The avatarforge.v1 gRPC API: code generated from proto/avatarforge/v1/avatarforge.proto by
`make proto` (do not edit; tests/test_proto.py fails when it is stale)."""
