"""`python -m kfalb`."""

from kfalb.cli import main

raise SystemExit(main())
