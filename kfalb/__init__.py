"""The `kfalb` command: runs the kubeflow-alb flows from a shell or CI."""
