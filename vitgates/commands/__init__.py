"""The command-line groups of ``vitgates``: one module per subcommand, each with
``configure_parser(parser)`` and ``run(args) -> int`` (:mod:`vitgates.cli` dispatches)."""
