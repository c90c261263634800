#!/usr/bin/env python3
"""tests/support/http_fixture.py - a small HTTP server for the web_fetch/api_request tests (tests/unit/skills/test_http.c).

Binds 127.0.0.1 on a free port and prints the port as the first line of stdout. With --exit-on-stdin-eof it exits
when its stdin closes, so it never outlives the test that started it (even one that crashed); it exits after 10
minutes in any case.

Routes (any method):
  /html            an HTML page with script, style, comments, entities, hidden elements and block elements
  /text            text/plain                    /json        application/json
  /json-bad        application/json that does not parse
  /latin1          text/plain with bytes that are not UTF-8
  /sniff-html      an HTML document without a Content-Type header
  /status/<code>   that status with a JSON body ({"status": code}); 204 and 304 without a body
  /redirect/<n>    a chain of n 302 redirects ending at a 200 text/plain "redirected"
  /redirect-file   302 to file:///etc/passwd          /redirect-ftp   302 to ftp://127.0.0.1/
  /redirect-host   302 to http://localhost:<port>/echo (another host name)
  /slow            sleeps 5 s, then 200
  /big             3 MiB with Content-Length      /big-stream   3 MiB without Content-Length
  /gzip            a gzip-encoded text/plain body  /gzip-bomb    3 MiB of zeros gzip-encoded (a few KiB on the wire)
  /echo            JSON {method, path, headers, body}
  /binary          image/png bytes
"""
import gzip
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HTML = b"""<!DOCTYPE html>
<html><head><title>Fixture page</title>
<style>body { color: red; } p::before { content: "<b>styled</b>"; }</style>
<script>var x = "<p>not text</p>"; if (a < b && c > d) { document.write('</scrip' + 't>'); }</script>
</head>
<body>
<h1>Hello &amp; welcome</h1>
<!-- a comment with <p>markup</p> -->
<p>Tom &lt;3 Jerry &quot;quoted&quot; &#39;single&#39;&nbsp;space &#x263A; &#128512;</p>
<noscript>enable javascript</noscript>
<template><p>hidden template</p></template>
<ul><li>one</li><li>two</li></ul>
<div>a<br>b</div>
</body></html>
"""

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489") + b"\x00" * 32
BIG = 3 * 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    server_version = "fixture/1"

    def log_message(self, fmt, *args):  # quiet: ctest output is for the C test
        pass

    def send(self, code, body=b"", ctype="text/plain; charset=utf-8", headers=()):
        self.send_response(code)
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def route(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path = self.path.split("?", 1)[0]
        port = self.server.server_address[1]

        if path == "/html":
            return self.send(200, HTML, "text/html; charset=utf-8")
        if path == "/text":
            return self.send(200, b"plain text body\n")
        if path == "/json":
            return self.send(200, b'{"name": "fixture", "items": [1, 2, 3]}', "application/json")
        if path == "/json-bad":
            return self.send(200, b"{not json", "application/json")
        if path == "/latin1":
            return self.send(200, b"caf\xe9 ok", "text/plain; charset=iso-8859-1")
        if path == "/sniff-html":
            return self.send(200, b"<!doctype html><p>sniffed &amp; found</p>", None)
        if path.startswith("/status/"):
            code = int(path[len("/status/"):])
            if code in (204, 304):
                return self.send(code, None, None)
            return self.send(code, json.dumps({"status": code}).encode(), "application/json")
        if path.startswith("/redirect/"):
            n = int(path[len("/redirect/"):])
            if n <= 0:
                return self.send(200, b"redirected")
            return self.send(302, b"", headers=[("Location", "/redirect/%d" % (n - 1))])
        if path == "/redirect-file":
            return self.send(302, b"", headers=[("Location", "file:///etc/passwd")])
        if path == "/redirect-ftp":
            return self.send(302, b"", headers=[("Location", "ftp://127.0.0.1/")])
        if path == "/redirect-host":
            return self.send(302, b"", headers=[("Location", "http://localhost:%d/echo" % port)])
        if path == "/slow":
            time.sleep(5)
            return self.send(200, b"finally")
        if path == "/big":
            return self.send(200, b"a" * BIG)
        if path == "/big-stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()  # HTTP/1.0 without Content-Length: the body ends when the connection closes
            chunk = b"b" * 65536
            try:
                for _ in range(BIG // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                pass
            return None
        if path == "/gzip":
            return self.send(200, gzip.compress(b"unzipped text"), headers=[("Content-Encoding", "gzip")])
        if path == "/gzip-bomb":
            return self.send(200, gzip.compress(b"\0" * BIG), headers=[("Content-Encoding", "gzip")])
        if path == "/echo":
            doc = {
                "method": self.command,
                "path": self.path,
                "headers": {k: v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
            }
            return self.send(200, json.dumps(doc).encode(), "application/json")
        if path == "/binary":
            return self.send(200, PNG, "image/png")
        return self.send(404, b"no such route")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = route


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # clients hang up on purpose (caps, timeouts)
        pass


def main():
    server = Server(("127.0.0.1", 0), Handler)
    if "--exit-on-stdin-eof" in sys.argv[1:]:
        def watch():
            sys.stdin.buffer.read()
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    threading.Timer(600, lambda: os._exit(0)).start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
