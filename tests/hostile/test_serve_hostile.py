"""Issue 12 items 7 and 8 (serve): a port in use is a message, not a traceback; requests
naming another host (DNS rebinding) are refused; a browser dropping its connection
prints nothing."""

from __future__ import annotations

import http.client
import signal
import socket
import struct
from pathlib import Path

from tests.hostile.fs_support import popen, protocolc, versions_book


def test_a_port_in_use_is_a_clear_message(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = protocolc("serve", "protocols", "--port", str(port), cwd=book, timeout=60)
    assert result.returncode == 2
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr and "another server uses that port" in result.stderr


def test_serve_refuses_an_output_folder_holding_the_sources(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    result = protocolc("serve", "protocols", "-o", ".", "--port", "0", cwd=book, timeout=60)
    assert result.returncode == 2 and "serve refused" in result.stderr


def request(port: int, host: str, method: str = "GET") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, "/index.html", skip_host=True)
        connection.putheader("Host", host)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def test_other_host_names_are_refused_and_dropped_connections_are_quiet(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    server = popen("serve", "protocols", "--port", "0", cwd=book)
    try:
        assert server.stderr is not None
        line = ""
        while "http://" not in line:
            line = server.stderr.readline()
            assert line, "serve exited before it was ready"
        port = int(line.split("http://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        assert request(port, f"127.0.0.1:{port}") == 200
        assert request(port, f"localhost:{port}") == 200
        assert request(port, f"[::1]:{port}") == 200
        assert request(port, f"rebind.attacker.example:{port}") == 421
        assert request(port, "localhost:1") == 421
        assert request(port, f"rebind.attacker.example:{port}", "HEAD") == 421
        for _ in range(20):  # the browser goes away mid-request: reset, not a clean close
            with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
                client.sendall(f"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert request(port, f"127.0.0.1:{port}") == 200  # still serving
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, stderr = server.communicate(timeout=60)
        finally:
            if server.poll() is None:  # never leave a server running after the test
                server.kill()
                server.communicate()
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr and "ConnectionReset" not in stderr
