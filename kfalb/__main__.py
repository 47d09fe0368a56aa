"""`python -m kfalb`: the same as the `kfalb` command."""

from kfalb.cli import run

if __name__ == "__main__":
    run()
