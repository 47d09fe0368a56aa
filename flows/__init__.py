"""Prefect flows: setup, cleanup and drift check of a kubeflow-alb stack (orchestration only)."""
