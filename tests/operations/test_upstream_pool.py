"""The proxy's connections to the DICOMweb host: reused while the host keeps them open, a request on a connection
the host closed meanwhile sent again on a new one, at most `size` requests at a time."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from ahiops.upstream_pool import UpstreamPool

pytestmark = pytest.mark.server


class RawOrigin:
    """Answers ``ok`` to every request; ``close_after_each`` closes each connection after one answer without
    saying so (as a host that times out an idle connection does). Counts the connections accepted."""

    def __init__(self, *, close_after_each: bool) -> None:
        self.close_after_each = close_after_each
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            buffer = b""
            while True:
                try:
                    data = connection.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    _, buffer = buffer.split(b"\r\n\r\n", 1)
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    if self.close_after_each:
                        return

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def keeping() -> Iterator[RawOrigin]:
    origin = RawOrigin(close_after_each=False)
    yield origin
    origin.close()


@pytest.fixture
def closing() -> Iterator[RawOrigin]:
    origin = RawOrigin(close_after_each=True)
    yield origin
    origin.close()


def pool_for(origin: RawOrigin, size: int = 4) -> UpstreamPool:
    return UpstreamPool(f"http://127.0.0.1:{origin.port}/datastore/x", size=size, connect_timeout=5, read_timeout=5)


def get(pool: UpstreamPool) -> bytes:
    connection, response = pool.request("GET", "/datastore/x/studies", {})
    try:
        return response.read()
    finally:
        pool.release(connection, response)


def test_a_connection_is_reused_while_the_host_keeps_it(keeping: RawOrigin) -> None:
    pool = pool_for(keeping)
    assert [get(pool) for _ in range(3)] == [b"ok"] * 3
    assert keeping.connections == 1
    pool.clear()


def test_a_connection_the_host_closed_is_replaced_and_the_request_sent_again(closing: RawOrigin) -> None:
    pool = pool_for(closing)
    assert [get(pool) for _ in range(3)] == [b"ok"] * 3
    assert closing.connections == 3
    pool.clear()


def test_an_answer_not_read_to_the_end_closes_its_connection(keeping: RawOrigin) -> None:
    pool = pool_for(keeping)
    connection, response = pool.request("GET", "/", {})
    pool.release(connection, response)  # the body was not read
    assert get(pool) == b"ok"
    assert keeping.connections == 2
    pool.clear()


def test_no_more_than_size_requests_at_a_time(keeping: RawOrigin) -> None:
    pool = pool_for(keeping, size=1)
    held = pool.request("GET", "/", {})
    second = threading.Thread(target=get, args=(pool,), daemon=True)
    second.start()
    second.join(timeout=0.5)
    assert second.is_alive()  # waits for the one slot
    held[1].read()
    pool.release(*held)
    second.join(timeout=5)
    assert not second.is_alive()
    pool.clear()


class ConnectProxy:
    """An HTTP proxy that opens CONNECT tunnels and records each CONNECT's request line and headers."""

    def __init__(self) -> None:
        self.connects: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        self.connects.append(head)
        host, port = head.split(b" ")[1].decode().rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pipe(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                sink.close()

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def close(self) -> None:
        self._listener.close()


def test_through_a_proxy_each_connection_is_a_connect_tunnel(keeping: RawOrigin) -> None:
    proxy = ConnectProxy()
    try:
        pool = UpstreamPool(
            f"http://127.0.0.1:{keeping.port}/datastore/x",
            size=2,
            connect_timeout=5,
            read_timeout=5,
            proxy=f"http://user:p%40ss@127.0.0.1:{proxy.port}",
        )
        assert [get(pool) for _ in range(2)] == [b"ok", b"ok"]
        pool.clear()
    finally:
        proxy.close()
    [connect] = proxy.connects  # one tunnel, reused
    assert connect.startswith(f"CONNECT 127.0.0.1:{keeping.port} HTTP/1.".encode())
    assert b"Proxy-Authorization: Basic dXNlcjpwQHNz" in connect  # user:p@ss


def test_a_proxy_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="the proxy must be an http://host:port URL"):
        UpstreamPool("https://h.example/", size=1, connect_timeout=1, read_timeout=1, proxy="socks5://p:1080")


def test_a_host_that_cannot_be_reached_is_an_os_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    pool = UpstreamPool(f"http://127.0.0.1:{port}/", size=1, connect_timeout=2, read_timeout=2)
    with pytest.raises(ConnectionRefusedError):
        pool.request("GET", "/", {})
    with pytest.raises(ConnectionRefusedError):  # the slot was given back
        pool.request("GET", "/", {})
