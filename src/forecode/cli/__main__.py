"""`python -m forecode.cli`: the same entry point as the `forecode` script (used by torchrun)."""

from forecode.cli import main

raise SystemExit(main())
