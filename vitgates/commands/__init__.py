"""The subcommands of ``vitgates``: each module's ``configure_parser`` and ``run``."""
