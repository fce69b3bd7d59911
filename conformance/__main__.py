"""`python -m conformance` is the `conformance` command."""

from conformance.cli import console_main

console_main()
