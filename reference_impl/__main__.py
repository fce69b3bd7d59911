"""`python -m reference_impl serve ...`, the same as the `reference-impl` command."""

from reference_impl.cli import main

raise SystemExit(main())
