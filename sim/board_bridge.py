"""A TCP bridge to a simulated board's UART: the host client (``vitgates host --port
socket://127.0.0.1:PORT``) talks to the board top in the simulator as to a real board.

Bytes from the client are sent on ``uart_rx`` at the line rate through a
:class:`~vitgates.sim.uart_model.UARTSource`; bytes the board sends on ``uart_tx`` (a
running :class:`~vitgates.sim.uart_model.UARTSink`) go back to the client. Simulated time
advances only while the board is busy or bytes are queued, so the link's silence timeout
does not fire while the client thinks.
"""

import select
import socket

import cocotb
from cocotb.triggers import Timer

from ..golden.link import Deframer

__all__ = ["serve_tcp"]


async def serve_tcp(src, sink, bit_ns, port: int, *, accept_timeout: float = 300):
    """Serve the board behind ``src`` and ``sink`` (``bit_ns`` a bit) on ``127.0.0.1:port``
    until a client that sent something disconnects (one that leaves without a byte was a
    readiness probe: the next client is served). ``accept_timeout``: seconds to wait for a
    client."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(1)
    server.settimeout(accept_timeout)
    forward = Deframer()
    events = 0  # frames and errors the board must answer
    sent_back = 0
    while True:  # a client that connects and leaves without a byte was a probe
        conn, _ = server.accept()
        conn.setblocking(False)
        received = 0
        queue = bytearray()
        open_ = True
        while open_ or queue:
            # busy: replies owed, bytes to pass on, or the board sent lately (detections
            # follow a grid's last frame without a request of their own)
            now = cocotb.utils.get_sim_time("ns")
            busy = (events > len(sink.replies) or sent_back < len(sink.data)
                    or (sink.last_ns and now - sink.last_ns < 400 * bit_ns))
            r, _, _ = select.select([conn], [], [], 0 if (busy or queue) else 0.02)
            if r:
                chunk = conn.recv(65536)
                if not chunk:
                    open_ = False
                queue += chunk
                received += len(chunk)
            if queue:
                b = queue[:1]
                del queue[:1]
                events += len(forward.feed(b))
                await src.send(b)
            else:
                await Timer(bit_ns, unit="ns")
            if sent_back < len(sink.data):
                try:
                    conn.sendall(bytes(sink.data[sent_back:]))
                except OSError:
                    open_ = False
                    queue.clear()
                sent_back = len(sink.data)
        conn.close()
        if received:
            break
    server.close()
