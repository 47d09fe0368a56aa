"""Parts of the AWS Load Balancer Controller stand-in: model, identity, AWS deployer, cluster writes."""
