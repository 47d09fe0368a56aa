"""The stand-in world (AWS, Kubernetes, DNS, HTTPS) that the demo and tests run against."""
