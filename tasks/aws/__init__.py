"""Prefect tasks for AWS resources: clients, error translation and one module per resource kind."""
