"""The query API's keep-alive connections to an Elasticsearch node (api/query/es_http.py), against a small local HTTP
server that answers as told: connections reused, closed ones replaced, the limit held with reads served in order
of arrival, timeouts, refusals and answers cut in pieces or chunked."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from elastic_transport import ConnectionError as NodeConnectionError
from elastic_transport import ConnectionTimeout, NodeConfig

from api.query.es_http import NodeConnections

Answer = Callable[[bytes], Awaitable[bytes | None]]  # request -> raw answer (None: close without answering)


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


class Server:
    """Counts connections, records each request's target and body, answers with ``answer``."""

    def __init__(self, answer: Answer, pieces: int = 1) -> None:
        self.answer, self.pieces = answer, pieces
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.requests: list[tuple[bytes, bytes]] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                headers = dict(line.lower().split(b": ", 1) for line in lines[1:] if b": " in line)
                body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
                self.requests.append((lines[0].split(b" ")[1], body))
                raw = await self.answer(body)
                if raw is None:
                    break
                step = max(1, len(raw) // self.pieces)
                for i in range(0, len(raw), step):
                    writer.write(raw[i : i + step])
                    await writer.drain()
                    if self.pieces > 1:
                        await asyncio.sleep(0.001)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()


async def served(server: Server, use: Callable[[NodeConnections], Awaitable[Any]], limit: int = 8) -> Any:
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    conns = NodeConnections(NodeConfig("http", "127.0.0.1", port), limit)
    try:
        return await use(conns)
    finally:
        conns.close()
        for writer in server.writers:
            writer.close()
        srv.close()


async def echo(body: bytes) -> bytes:
    return ok(body)


def test_reads_reuse_one_connection_and_send_the_whole_request() -> None:
    server = Server(echo)

    async def use(conns: NodeConnections) -> list[tuple[int, bytes]]:
        return [await conns.request("POST", f"/catalog/_search?n={i}", b'{"n":%d}' % i, 5) for i in range(5)]

    answers = asyncio.run(served(server, use))
    assert answers == [(200, b'{"n":%d}' % i) for i in range(5)]
    assert server.connections == 1
    assert server.requests[2] == (b"/catalog/_search?n=2", b'{"n":2}')


def test_a_connection_the_node_closed_while_idle_is_replaced_and_the_read_answered() -> None:
    server = Server(echo)

    async def use(conns: NodeConnections) -> tuple[int, bytes]:
        await conns.request("GET", "/a", None, 5)
        for writer in server.writers:  # the node drops its idle keep-alive connections
            writer.close()
        await asyncio.sleep(0.05)
        return await conns.request("POST", "/b", b"{}", 5)

    assert asyncio.run(served(server, use)) == (200, b"{}")
    assert server.connections == 2


def test_a_read_the_node_drops_unanswered_on_a_reused_connection_is_sent_once_more() -> None:
    dropped: list[bytes] = []

    async def drop_first_second(body: bytes) -> bytes | None:
        if body == b"second" and not dropped:
            dropped.append(body)
            return None  # closes without an answer, as a node closing an idle connection just then
        return ok(body)

    server = Server(drop_first_second)

    async def use(conns: NodeConnections) -> list[tuple[int, bytes]]:
        return [await conns.request("POST", "/x", b, 5) for b in (b"first", b"second")]

    assert asyncio.run(served(server, use)) == [(200, b"first"), (200, b"second")]
    assert server.connections == 2 and [b for _t, b in server.requests] == [b"first", b"second", b"second"]


def test_a_new_connection_that_is_dropped_unanswered_is_a_connection_error_not_resent() -> None:
    async def drop(_body: bytes) -> bytes | None:
        return None

    server = Server(drop)

    async def use(conns: NodeConnections) -> Any:
        return await conns.request("POST", "/x", b"{}", 5)

    with pytest.raises(NodeConnectionError):
        asyncio.run(served(server, use))
    assert len(server.requests) == 1


def test_connection_close_in_the_answer_is_honoured() -> None:
    async def closing(body: bytes) -> bytes:
        return ok(body, b"connection: close\r\n")

    server = Server(closing)

    async def use(conns: NodeConnections) -> list[tuple[int, bytes]]:
        return [await conns.request("POST", "/x", b"%d" % i, 5) for i in range(3)]

    assert asyncio.run(served(server, use)) == [(200, b"0"), (200, b"1"), (200, b"2")]
    assert server.connections == 3


def test_past_the_limit_reads_wait_and_are_served_in_order_of_arrival() -> None:
    async def slow(body: bytes) -> bytes:
        await asyncio.sleep(0.02)
        return ok(body)

    server = Server(slow)

    async def use(conns: NodeConnections) -> list[tuple[int, bytes]]:
        async def one(i: int) -> tuple[int, bytes]:
            await asyncio.sleep(i * 0.001)  # arrive in this order
            return await conns.request("POST", "/x", b"%d" % i, 5)

        return list(await asyncio.gather(*(one(i) for i in range(12))))

    answers = asyncio.run(served(server, use, limit=3))
    assert answers == [(200, b"%d" % i) for i in range(12)]
    assert server.most_open <= 3 and server.connections == 3
    assert [int(b) for _t, b in server.requests] == list(range(12))


def test_answers_in_pieces_and_chunked_answers_are_read_whole() -> None:
    body = b'{"hits":"' + b"x" * 50_000 + b'"}'
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        + b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 7000]), body[i : i + 7000]) for i in range(0, len(body), 7000))
        + b"0\r\n\r\n"
    )

    async def plain(_b: bytes) -> bytes:
        return ok(body)

    async def chunks(_b: bytes) -> bytes:
        return chunked

    async def use(conns: NodeConnections) -> tuple[int, bytes]:
        return await conns.request("GET", "/x", None, 5)

    assert asyncio.run(served(Server(plain, pieces=40), use)) == (200, body)
    assert asyncio.run(served(Server(chunks, pieces=9), use)) == (200, body)


def test_a_read_not_answered_in_time_is_a_timeout_and_frees_its_connection() -> None:
    async def hang_once(body: bytes) -> bytes:
        if body == b"hang":
            await asyncio.sleep(3)
        return ok(body)

    server = Server(hang_once)

    async def use(conns: NodeConnections) -> tuple[int, bytes]:
        with pytest.raises(ConnectionTimeout):
            await conns.request("POST", "/x", b"hang", 0.2)
        return await conns.request("POST", "/x", b"next", 5)

    assert asyncio.run(served(server, use, limit=1)) == (200, b"next")
    assert server.connections == 2  # the timed-out connection was closed, not reused


def test_a_refused_connection_is_a_connection_error_and_frees_its_slot() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def run() -> None:
        conns = NodeConnections(NodeConfig("http", "127.0.0.1", port), 1)
        for _ in range(3):  # the slot comes back each time: no read waits for a connection never opened
            with pytest.raises(NodeConnectionError):
                await asyncio.wait_for(conns.request("GET", "/x", None, 5), 2)
        assert conns.open == 0

    asyncio.run(run())


def test_the_nodes_headers_and_credentials_go_with_every_read() -> None:
    seen: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(ok(b"{}"))
        await writer.drain()
        writer.close()

    async def run() -> tuple[int, tuple[int, bytes]]:
        srv = await asyncio.start_server(record, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        config = NodeConfig("http", "127.0.0.1", port, path_prefix="/es", headers={"authorization": "Basic dTpw"})
        conns = NodeConnections(config, 2)
        try:
            return port, await conns.request("GET", "/catalog/_doc/1", None, 5)
        finally:
            conns.close()
            srv.close()

    port, answer = asyncio.run(run())
    assert answer == (200, b"{}")
    head = seen[0].decode()
    assert head.startswith("GET /es/catalog/_doc/1 HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{port}\r\n" in head
    assert "authorization: Basic dTpw\r\n" in head and "content-length: 0\r\n" in head
    assert "content-type: application/json\r\n" in head


def test_a_read_that_times_out_waiting_for_a_connection_takes_none_from_the_others() -> None:
    async def slow(body: bytes) -> bytes:
        await asyncio.sleep(0.3)
        return ok(body)

    server = Server(slow)

    async def use(conns: NodeConnections) -> list[Any]:
        busy = asyncio.create_task(conns.request("POST", "/x", b"busy", 5))
        await asyncio.sleep(0.05)
        with pytest.raises(ConnectionTimeout):  # the only connection is busy past this read's bound
            await conns.request("POST", "/x", b"impatient", 0.1)
        after = asyncio.create_task(conns.request("POST", "/x", b"after", 5))
        answers = [await busy, await after]
        return [*answers, conns.open, len(conns.waiting)]

    assert asyncio.run(served(server, use, limit=1)) == [(200, b"busy"), (200, b"after"), 1, 0]
    assert server.connections == 1 and [b for _t, b in server.requests] == [b"busy", b"after"]
