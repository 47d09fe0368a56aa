"""Prefect tasks: the side effects, one module per AWS or Kubernetes resource kind."""
