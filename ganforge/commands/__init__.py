"""One module per CLI sub-command: NAME (optional), HELP, add_arguments(parser), run(args) -> int."""
