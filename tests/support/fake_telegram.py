#!/usr/bin/env python3
"""tests/support/fake_telegram.py - a Telegram Bot API server on loopback for the gateway tests
(tests/integration/telegram.sh). It speaks the real wire format: /bot<TOKEN>/getUpdates (long polling with offset,
timeout, limit), /bot<TOKEN>/sendMessage (JSON or form), /bot<TOKEN>/sendPhoto (multipart/form-data), and Telegram's
error answers ({"ok": false, "error_code", "description", "parameters": {"retry_after"}}).

Binds 127.0.0.1 on a free port and prints the port as the first line of stdout. --token T is the only token it
accepts (others get 401). With --exit-on-stdin-eof it exits when its stdin closes.

Control routes for the test (not part of the Bot API):
  POST /_test/updates   a JSON list of update objects; update_id is assigned when missing; answers the ids
  GET  /_test/sent      every message and photo sent so far, in order
  GET  /_test/polls     the offset of every getUpdates call so far
  POST /_test/fail      {"mode": "429"|"500"|"garbage"|"drop"|"401", "count": n, "retry_after": s}: the next n
                        getUpdates calls fail that way
  sendMessage with parse_mode set and "REFUSE_MARKUP" in the text answers 400 "can't parse entities".
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOKEN = None
lock = threading.Condition()
updates = []
sent = []
polls = []
fails = []
next_id = [1000]
msg_id = [1]


def multipart(body, ctype):
    boundary = ctype.split("boundary=", 1)[1].strip().encode()
    parts = {}
    for chunk in body.split(b"--" + boundary):
        if not chunk.strip() or chunk.strip() == b"--":
            continue
        head, _, data = chunk.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        name = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if line.lower().startswith("content-disposition"):
                for item in line.split(";"):
                    item = item.strip()
                    if item.startswith("name="):
                        name = item[5:].strip('"')
        if name:
            parts[name] = data
    return parts


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, obj=None, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the node stopped in the middle of a long poll

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def params(self, raw):
        u = urlparse(self.path)
        p = {k: v[0] for k, v in parse_qs(u.query).items()}
        ctype = self.headers.get("Content-Type") or ""
        if raw and ctype.startswith("application/json"):
            p.update(json.loads(raw))
        elif raw and ctype.startswith("application/x-www-form-urlencoded"):
            p.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
        elif raw and ctype.startswith("multipart/form-data"):
            p.update(multipart(raw, ctype))
        return p

    def do_GET(self):
        self.route(b"")

    def do_POST(self):
        self.route(self.body())

    def route(self, raw):
        path = urlparse(self.path).path
        if path.startswith("/_test/"):
            return self.control(path, raw)
        if not path.startswith("/bot"):
            return self.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, _, method = path[4:].partition("/")
        if token != TOKEN:
            return self.reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        p = self.params(raw)
        if method == "getUpdates":
            return self.get_updates(p)
        if method == "sendMessage":
            text = p.get("text", "")
            if p.get("parse_mode") and "REFUSE_MARKUP" in text:
                return self.reply(400, {"ok": False, "error_code": 400,
                                        "description": "Bad Request: can't parse entities"})
            with lock:
                sent.append({"method": "sendMessage", "chat_id": str(p.get("chat_id")), "text": text,
                             "parse_mode": p.get("parse_mode")})
                msg_id[0] += 1
                mid = msg_id[0]
            return self.reply(200, {"ok": True, "result": {"message_id": mid, "text": text}})
        if method == "sendPhoto":
            photo = p.get("photo", b"")
            with lock:
                sent.append({"method": "sendPhoto", "chat_id": p.get("chat_id", b"").decode(),
                             "caption": p.get("caption", b"").decode(), "photo_bytes": len(photo),
                             "png": photo[:8] == b"\x89PNG\r\n\x1a\n"})
            return self.reply(200, {"ok": True, "result": {"message_id": 1}})
        return self.reply(404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"})

    def get_updates(self, p):
        offset = int(p.get("offset", 0))
        timeout = min(float(p.get("timeout", 0)), 1.0)
        with lock:
            polls.append(offset)
            if fails:
                f = fails.pop(0)
            else:
                f = None
        if f is not None:
            mode = f["mode"]
            if mode == "429":
                return self.reply(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after "
                                        + str(f.get("retry_after", 1)), "parameters": {"retry_after": f.get("retry_after", 1)}})
            if mode == "500":
                return self.reply(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
            if mode == "401":
                return self.reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            if mode == "garbage":
                return self.reply(200, raw=b"<html>this is not json")
            if mode == "drop":
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(2)
                return
        deadline = time.time() + timeout
        with lock:
            while True:
                out = [u for u in updates if u["update_id"] >= offset][:int(p.get("limit", 100))]
                left = deadline - time.time()
                if out or left <= 0:
                    break
                lock.wait(left)
        return self.reply(200, {"ok": True, "result": out})

    def control(self, path, raw):
        if path == "/_test/updates":
            ids = []
            with lock:
                for u in json.loads(raw):
                    if "update_id" not in u:
                        next_id[0] += 1
                        u["update_id"] = next_id[0]
                    updates.append(u)
                    ids.append(u["update_id"])
                lock.notify_all()
            return self.reply(200, ids)
        if path == "/_test/sent":
            with lock:
                return self.reply(200, sent)
        if path == "/_test/polls":
            with lock:
                return self.reply(200, polls)
        if path == "/_test/fail":
            f = json.loads(raw)
            with lock:
                for _ in range(int(f.get("count", 1))):
                    fails.append(f)
            return self.reply(200, {"ok": True})
        return self.reply(404, {})


def main():
    global TOKEN
    args = sys.argv[1:]
    TOKEN = args[args.index("--token") + 1]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    if "--exit-on-stdin-eof" in args:
        def watch():
            sys.stdin.read()
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    threading.Thread(target=lambda: (time.sleep(900), os._exit(0)), daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
