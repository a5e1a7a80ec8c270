#!/usr/bin/python3
"""upload_sink.py - HTTP/1.1 request-body sink for tests/bench/bench.sh.

Listens on a Unix socket (the benchmark's upstream nginx proxies /upload to it),
reads every request body to the end (Content-Length or chunked), discards it and
only then answers 200 with the byte count in an X-Received-Bytes header, so a
proxy cannot "finish" an upload early: nginx's own `return 200` answers before
the body is read, and a proxy in front of it then stops forwarding the rest.
Keep-alive is supported; one thread per connection.

Usage: upload_sink.py SOCKET_PATH
"""
import os
import socket
import socketserver
import sys

CHUNK = 1 << 20


class Conn:
    """Buffered reader over a socket that can discard large spans cheaply."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.scratch = bytearray(CHUNK)
        self.view = memoryview(self.scratch)

    def fill(self):
        n = self.sock.recv_into(self.view, CHUNK)
        if n == 0:
            raise EOFError
        self.buf += self.view[:n]

    def readline(self, limit=65536):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                return line
            if len(self.buf) > limit:
                raise ValueError("line too long")
            self.fill()

    def discard(self, n):
        """Reads and drops exactly n bytes; returns n."""
        left = n
        take = min(left, len(self.buf))
        del self.buf[:take]
        left -= take
        while left > 0:
            got = self.sock.recv_into(self.view, min(left, CHUNK))
            if got == 0:
                raise EOFError
            left -= got
        return n


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        conn = Conn(self.request)
        try:
            while self.one_request(conn):
                pass
        except (EOFError, ConnectionError, ValueError):
            pass

    def one_request(self, conn):
        line = conn.readline()
        while line in (b"\r\n", b"\n"):
            line = conn.readline()
        parts = line.split()
        if len(parts) != 3:
            raise ValueError("bad request line")
        version = parts[2]
        headers = {}
        while True:
            h = conn.readline()
            if h in (b"\r\n", b"\n"):
                break
            name, _, value = h.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"expect", b"").lower() == b"100-continue":
            self.request.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        received = 0
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            while True:
                size = int(conn.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while conn.readline() not in (b"\r\n", b"\n"):
                        pass  # trailers
                    break
                received += conn.discard(size)
                conn.readline()  # CRLF after the chunk
        elif b"content-length" in headers:
            received = conn.discard(int(headers[b"content-length"]))
        close = (headers.get(b"connection", b"").lower() == b"close"
                 or version == b"HTTP/1.0")
        body = b"ok\n"
        resp = (b"HTTP/1.1 200 OK\r\n"
                b"Content-Type: text/plain\r\n"
                b"X-Received-Bytes: %d\r\n"
                b"Content-Length: %d\r\n"
                b"%s\r\n" % (received, len(body),
                             b"Connection: close\r\n" if close else b""))
        self.request.sendall(resp + body)
        return not close


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: upload_sink.py SOCKET_PATH\n")
        return 2
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    with Server(path, Handler) as srv:
        srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
