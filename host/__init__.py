"""Regressions through a board over its UART: the client of the link
(:mod:`~vitgates.host.client`), the person classifier's run (:mod:`~vitgates.host.person`),
the cofiber detector's (:mod:`~vitgates.host.detector`) and their report
(:mod:`~vitgates.host.report`). The command line is ``vitgates host``
(:mod:`vitgates.commands.host`)."""
