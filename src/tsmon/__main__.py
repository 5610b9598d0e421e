"""`python -m tsmon` runs the command line."""

from tsmon.cli import main

main()
