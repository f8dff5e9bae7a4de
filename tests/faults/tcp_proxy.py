"""A TCP proxy of the fault tests' own between the processes under test and PostgreSQL, on loopback, that can
make the database unreachable without touching the machine's PostgreSQL:

    up      forward both ways
    down    reset every open connection (RST, as a crashed server or a dropped route would leave them), and
            accept new ones without ever answering (a connecting client waits for its connect_timeout)
    stall   keep every open connection open but silent (nothing forwarded either way: a server that froze, or
            a partition seen through a proxy), and hold new ones as in `down`

Going `up` again resets what `down`/`stall` held; clients connect afresh. Runs an asyncio loop on a daemon
thread of the test process; the control methods are called from the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading

from tests.fakes.push_server import free_port, wait_for_port


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5432) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.mode = "up"
        self.accepted = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing: asyncio.Event  # these two are made by start(), on the proxy's own loop
        self._server: asyncio.AbstractServer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> TcpProxy:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._flowing = asyncio.Event()
            self._flowing.set()
            self._server = loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"tcp-proxy-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(5)
        wait_for_port(self.port)
        return self

    def url(self, database_url_path: str) -> str:
        return f"127.0.0.1:{self.port}/{database_url_path}"

    # --- control (from the test's thread) ------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        assert mode in ("up", "down", "stall")
        assert self._loop is not None, "start() first"
        future = asyncio.run_coroutine_threadsafe(self._set_mode(mode), self._loop)
        future.result(5)

    def stop(self) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(5)

    # --- the loop's side -----------------------------------------------------------------------------------
    async def _set_mode(self, mode: str) -> None:
        previous, self.mode = self.mode, mode
        if mode == "stall":
            self._flowing.clear()
        elif mode == "down" or (mode == "up" and previous != "up"):
            self._flowing.clear()
            for writer in list(self._writers):
                _reset(writer)
            self._writers.clear()
            if mode == "up":
                self._flowing.set()

    async def _shutdown(self) -> None:
        self._server.close()
        for writer in list(self._writers):
            _reset(writer)
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.add(writer)
        if self.mode != "up":  # held: never forwarded, never answered
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _reset(writer)
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        for end in (writer, up_writer):
            self._writers.discard(end)
            end.transport.abort()

    async def _pipe(self, source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
        while True:
            data = await source.read(65536)
            if not data:
                target.transport.abort()
                return
            await self._flowing.wait()  # stalled: held here, the socket stays open
            if target.transport.is_closing():
                return
            target.write(data)
            await target.drain()
