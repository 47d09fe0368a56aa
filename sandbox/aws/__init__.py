"""The AWS side of the sandbox: moto in server mode with the rules real AWS enforces."""

from sandbox.aws.hooks import DnsCheck, Realism
from sandbox.aws.seed import SeededWorld
from sandbox.aws.server import AwsSandbox, install_rules

__all__ = ["AwsSandbox", "DnsCheck", "Realism", "SeededWorld", "install_rules"]
