"""Parts of the sandbox HTTPS endpoint: routes (which ALB serves a name) and the Kubeflow pages."""
