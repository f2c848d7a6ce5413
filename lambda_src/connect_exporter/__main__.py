"""`python -m connect_exporter`: the CLI (an operator tool, left out of the Lambda asset like `tools/`)."""

from .tools.cli import main

raise SystemExit(main())
