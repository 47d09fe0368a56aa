"""Data package: example configurations (config.yaml: the guide's shape; sandbox.yaml)."""
