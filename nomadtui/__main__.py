"""`python -m nomadtui`: the same entry point as the `nomadtui` console script."""

from nomadtui.cli.main import main

raise SystemExit(main())
