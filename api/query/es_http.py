"""Keep-alive HTTP/1.1 connections to one Elasticsearch node, for the query API's reads (api/query/es_reads.py).

A read is one write of the whole request on an idle connection, and its answer parsed by httptools (the parser
uvicorn serves the APIs with) into the status and the body. aiohttp's client, which the Elasticsearch client's
nodes use, spends about 0.28 ms of CPU per request above this on its session, request and response objects,
timers, URL and cookie handling (0.46 against 0.18 ms per search, answer parsed in both, 16 at once against the
running Elasticsearch): a third of what the query API spent on a catalog search.

- Connections are opened as needed up to ``limit``. Past it, a read waits for one in order of arrival: a released
  connection is handed to the oldest waiter, never taken first by a newer read.
- A connection Elasticsearch closed while idle is noticed and dropped. A read that gets no answer at all on a
  connection taken from the idle ones is sent once more on a new connection: the node may have closed it just
  then. A refused or lost connection raises elastic_transport's ``ConnectionError``, as the client's nodes do.
- A read not answered within its timeout closes its connection (its answer is not waited for) and raises
  ``ConnectionTimeout``.

Plain HTTP only: a node reached over HTTPS keeps the client's own node (Reads chooses).
"""

from __future__ import annotations

import asyncio
from collections import deque

import httptools
from elastic_transport import ConnectionError as NodeConnectionError
from elastic_transport import ConnectionTimeout, NodeConfig


class _Connection(asyncio.Protocol):
    """One connection, one request at a time; ``answer`` is set for the request in flight."""

    def __init__(self, pool: NodeConnections) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []
        self.received = False  # any byte of the answer in flight
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(NodeConnectionError(f"unreadable answer from {self.pool.name}: {exc}"))
            self.close()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        answer, self.answer = self.answer, None
        body, self.body = b"".join(self.body), []
        if not self.parser.should_keep_alive():
            self.close()
        if answer is not None and not answer.done():
            answer.set_result((self.parser.get_status_code(), body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(NodeConnectionError(f"connection to {self.pool.name} lost: {exc or 'closed by the node'}"))

    def _fail(self, exc: Exception) -> None:
        answer, self.answer = self.answer, None
        if answer is not None and not answer.done():
            answer.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class NodeConnections:
    def __init__(self, config: NodeConfig, limit: int) -> None:
        self.host, self.port, self.limit = config.host, config.port, limit
        self.name = f"{config.host}:{config.port}"
        self.prefix = config.path_prefix.rstrip("/").encode()
        # The node's own headers (its credentials from the URL, its user agent) on every request.
        headers = {**dict(config.headers), "content-type": "application/json", "accept": "application/json"}
        self.headers = f"host: {self.name}\r\n".encode() + b"".join(
            f"{k}: {v}\r\n".encode("latin-1") for k, v in headers.items() if k.lower() not in ("host", "connection")
        )
        self.idle: list[_Connection] = []
        self.open = 0
        self.waiting: deque[asyncio.Future[_Connection | None]] = deque()

    async def request(self, method: str, target: str, body: bytes | None, timeout_s: float) -> tuple[int, bytes]:
        """The answer's status and body. A timeout bounds the wait for a connection and the answer together."""
        head = (
            f"{method} ".encode()
            + self.prefix
            + target.encode()
            + b" HTTP/1.1\r\n"
            + self.headers
            + b"content-length: %d\r\n\r\n" % len(body or b"")
        )
        message = head + body if body else head
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            async with asyncio.timeout_at(deadline):
                conn, reused = await self._acquire()
                try:
                    return await self._send(conn, message)
                except NodeConnectionError:
                    if not (reused and not conn.received):
                        raise
                # The node closed the idle connection as the request went out: once more on a new one.
                conn, _ = await self._acquire(fresh=True)
                return await self._send(conn, message)
        except TimeoutError:
            raise ConnectionTimeout(f"no answer from {self.name} within {timeout_s} s") from None

    async def _send(self, conn: _Connection, message: bytes) -> tuple[int, bytes]:
        conn.answer = asyncio.get_running_loop().create_future()
        conn.received = False
        assert conn.transport is not None
        conn.transport.write(message)
        try:
            answer = await conn.answer
        except BaseException:
            # Failed, timed out or cancelled: whatever else arrives on it belongs to no one.
            conn.close()
            self._release(conn)
            raise
        self._release(conn)
        return answer

    async def _acquire(self, fresh: bool = False) -> tuple[_Connection, bool]:
        while not fresh and self.idle:
            conn = self.idle.pop()  # the most recently used: the likeliest to be open
            if not conn.closed:
                return conn, True
            self.open -= 1
        if self.open >= self.limit:
            waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
            self.waiting.append(waiter)
            try:
                handed = await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    given = waiter.result()
                    if given is not None:
                        self._release(given)  # handed over as this read was cancelled: pass it on
                    else:
                        self._pass_slot()
                elif waiter in self.waiting:
                    self.waiting.remove(waiter)
                raise
            if handed is not None and not handed.closed:
                return handed, True
            if handed is not None:
                self.open -= 1
            # A slot was freed (its connection closed): open a new connection in it.
        self.open += 1
        try:
            _transport, conn = await asyncio.get_running_loop().create_connection(
                lambda: _Connection(self), self.host, self.port
            )
        except OSError as exc:
            self.open -= 1
            self._pass_slot()
            raise NodeConnectionError(f"cannot connect to {self.name}: {exc}") from exc
        except BaseException:
            self.open -= 1
            self._pass_slot()
            raise
        return conn, False

    def _release(self, conn: _Connection) -> None:
        """A connection done with a request: to the oldest waiter, else idle; a closed one frees its slot."""
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                if conn.closed:
                    self.open -= 1
                    waiter.set_result(None)
                else:
                    waiter.set_result(conn)
                return
        if conn.closed:
            self.open -= 1
        else:
            self.idle.append(conn)

    def _pass_slot(self) -> None:
        """A slot freed without a connection (a failed connect): the oldest waiter opens one in it."""
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()
