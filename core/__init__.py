"""Pure code of kubeflow-alb: the spec, naming, planning, errors and reports (no I/O clients)."""
