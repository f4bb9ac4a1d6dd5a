"""The command line's subcommands, one module per group (``vitgates <group> ...``).

Each module exposes ``configure_parser(parser)`` and ``run(args) -> int`` and is imported by
name from :data:`vitgates.cli.COMMANDS` only when its subcommand runs. This is the top
layer (docs/ARCHITECTURE.md): it may import every package, none imports it, and no module
below holds argparse code.
"""
