"""Data package: the kustomize bases and the IAM policies kubeflow-alb ships (see README.md)."""
