"""Packages of the distribution: the code, plus the repository's data directories as packages
(deployments/ and examples/ stay where the docs, kustomize and the tests expect them)."""

from setuptools import find_packages, setup

#: Import names of the data packages and the directories they are built from.
DATA_PACKAGES = {"kfalb_deployments": "deployments", "kfalb_examples": "examples"}

setup(
    packages=find_packages(include=["core*", "tasks*", "flows*", "sandbox*", "kfalb*"])
    + list(DATA_PACKAGES),
    package_dir=DATA_PACKAGES,
)
