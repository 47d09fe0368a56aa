"""Packages of the distribution: the code, plus the repository's data directories as packages
(deployments/ and examples/ stay where the docs, kustomize and the tests expect them)."""

from setuptools import find_namespace_packages, find_packages, setup

#: Import names of the data packages and the directories they are built from.
DATA_PACKAGES = {"kfalb_deployments": "deployments", "kfalb_examples": "examples"}
#: Their sub-directories that Python could import (e.g. deployments/ingress): listed as packages
#: too, or setuptools warns that an importable directory is left out.
DATA_SUBPACKAGES = [
    f"{package}.{sub}"
    for package, directory in DATA_PACKAGES.items()
    for sub in find_namespace_packages(where=directory)
    if all(part.isidentifier() for part in sub.split("."))
]

setup(
    packages=find_packages(include=["core*", "tasks*", "flows*", "sandbox*", "kfalb*"])
    + list(DATA_PACKAGES)
    + DATA_SUBPACKAGES,
    package_dir=DATA_PACKAGES,
)
