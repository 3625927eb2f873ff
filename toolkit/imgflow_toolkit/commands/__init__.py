"""One module per ``imgflow`` subcommand: ``register(subparsers)`` adds it,
and the parser's ``handler`` default runs it (returning the exit code)."""
