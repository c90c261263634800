#!/usr/bin/env python3
"""tests/support/fake_llm.py - the LLM providers (Anthropic, Gemini, Ollama, OpenAI-compatible) and the GitHub REST API
on loopback, for the LLM router, the LLM skills and github_security_review (spec: tests/support/fake_llm.h; C client:
tests/support/fake_llm.c). Every answer is in the real API's wire format, errors included.

Binds 127.0.0.1 on a free port and prints "PORT <n>" as the first line of stdout. With --exit-on-stdin-eof it exits
when its stdin closes, so it never outlives the test that started it; it exits after 30 minutes in any case.

Routes:
  anthropic  POST /v1/messages                               anthropic-version required (400 without it);
                                                             x-api-key checked when a key is set (401)
  gemini     POST /v1beta/models/<model>:generateContent     x-goog-api-key (or ?key=) checked when set (missing 403,
                                                             wrong 400), as Google accepts either
  ollama     POST /api/chat                                  (non-streaming answer)
  openai     POST /v1/chat/completions                       Authorization: Bearer checked when a key is set (401)
  github     GET /repos/<o>/<r>/pulls[?state=&sort=&direction=&per_page=]
             GET /repos/<o>/<r>/pulls/<n>                    Accept application/vnd.github[.v3].diff -> the diff
             GET /repos/<o>/<r>/commits/<sha>                (full sha or a unique prefix of 7+ hex digits)
             Authorization "Bearer T" or "token T" checked when a token is set (401 Bad credentials); 404 otherwise.
Unscripted LLM calls answer "echo: " + the last user message (its first 200 characters) in the route's format.

Scripts (POST /_control/script): each entry answers one request of its route that passed the credential checks, in
order. {"status": N} without "text" or "body" answers the route's own error format for N; {"status": N, "text": S}
with N not 2xx uses S as the error message; with 2xx, S is the answer's text (github: a text/plain body). "body"
is sent as is (an object JSON-encoded). The default Gemini 429 carries a RetryInfo detail with a retryDelay (a
transient rate limit); script the body to get RESOURCE_EXHAUSTED without one.

Requests are recorded (GET /_control/requests) with path and query exactly as sent (percent-encoding kept).
"""
import hashlib
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

ROUTES = ("anthropic", "gemini", "ollama", "openai", "github")

lock = threading.Lock()
state = {}


def reset():
    with lock:
        state.clear()
        state.update({"scripts": {r: [] for r in ROUTES}, "keys": {}, "github": {}, "requests": [], "seq": 0})


reset()

ANTHROPIC_ERRORS = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
                    529: "overloaded_error"}
GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
                 504: "DEADLINE_EXCEEDED"}
OPENAI_ERRORS = {400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
                 403: ("invalid_request_error", "unsupported_country_region_territory"),
                 404: ("invalid_request_error", "model_not_found"), 429: ("requests", "rate_limit_exceeded"),
                 500: ("server_error", None), 503: ("server_error", None)}
REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 529: "Overloaded"}


def sha_of(*parts):
    return hashlib.sha1("/".join(str(p) for p in parts).encode()).hexdigest()


def words(s):
    return max(1, len(str(s).split()))


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---- the answers, in each API's format ---------------------------------------------------------------------------


def ok_body(route, model, text, prompt=""):
    with lock:
        state["seq"] += 1
        seq = state["seq"]
    pt, ct = words(prompt), words(text)
    if route == "anthropic":
        return {"id": "msg_fake%08d" % seq, "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": pt, "output_tokens": ct}}
    if route == "gemini":
        return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP",
                                "index": 0}],
                "usageMetadata": {"promptTokenCount": pt, "candidatesTokenCount": ct, "totalTokenCount": pt + ct},
                "modelVersion": model}
    if route == "ollama":
        return {"model": model, "created_at": now_iso(), "message": {"role": "assistant", "content": text},
                "done_reason": "stop", "done": True, "total_duration": 1000000, "load_duration": 100000,
                "prompt_eval_count": pt, "prompt_eval_duration": 200000, "eval_count": ct, "eval_duration": 600000}
    if route == "openai":
        return {"id": "chatcmpl-fake%08d" % seq, "object": "chat.completion", "created": int(time.time()),
                "model": model, "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                             "logprobs": None, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}}
    raise ValueError(route)


def error_body(route, status, message=None):
    if route == "anthropic":
        kind = ANTHROPIC_ERRORS.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message or kind.replace("_", " ")}}
    if route == "gemini":
        st = GOOGLE_STATUS.get(status, "UNKNOWN")
        e = {"code": status, "message": message or REASONS.get(status, "error"), "status": st}
        if status == 429 and message is None:
            e["message"] = "Resource has been exhausted (e.g. check quota)."
            e["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "5s"}]
        return {"error": e}
    if route == "ollama":
        return {"error": message or REASONS.get(status, "error").lower()}
    if route == "openai":
        kind, code = OPENAI_ERRORS.get(status, ("server_error", None))
        return {"error": {"message": message or REASONS.get(status, "error"), "type": kind, "param": None,
                          "code": code}}
    return {"message": message or REASONS.get(status, "error"), "documentation_url": "https://docs.github.com/rest",
            "status": str(status)}


def last_user(route, req):
    """The last user message's text in the request's format ('' when there is none)."""
    try:
        if route == "gemini":
            for c in reversed(req.get("contents") or []):
                if c.get("role", "user") == "user":
                    return "".join(p.get("text", "") for p in c.get("parts") or [])
            return ""
        for m in reversed(req.get("messages") or []):
            if m.get("role") == "user":
                c = m.get("content")
                if isinstance(c, list):  # Anthropic content blocks
                    return "".join(b.get("text", "") for b in c if isinstance(b, dict))
                return c if isinstance(c, str) else ""
    except AttributeError:
        pass
    return ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_llm/1"

    def log_message(self, *args):
        pass

    def send(self, code, obj=None, raw=None, ctype="application/json"):
        # UTF-8 on the wire, as the real APIs send it (not \u escapes).
        body = raw if raw is not None else json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")
        self.send_response(code, REASONS.get(code))
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout under test)

    def drop(self):
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self):
        self.handle_any(b"")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.handle_any(self.rfile.read(n) if n > 0 else b"")

    do_PUT = do_PATCH = do_DELETE = do_POST

    def handle_any(self, raw):
        path, _, query = self.path.partition("?")
        if path.startswith("/_control/"):
            return self.control(path, raw)
        route = self.route_of(path)
        try:
            parsed = json.loads(raw) if raw else ""
        except ValueError:
            parsed = None
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        with lock:
            state["requests"].append({"route": route, "method": self.command, "path": path, "query": query,
                                      "headers": headers,
                                      "body": parsed if parsed is not None else raw.decode("utf-8", "replace")})
        if route is None:
            return self.send(404, {"error": "no such route"})
        if route == "github":
            return self.github(path, query)
        if self.command != "POST":
            return self.send(405, error_body(route, 405, "method not allowed"))
        refused = self.check_credentials(route, query)
        if refused:
            return self.send(*refused)
        model = parsed.get("model") if isinstance(parsed, dict) else None
        if route == "gemini":
            model = unquote(path[len("/v1beta/models/"):].rsplit(":", 1)[0])
        if self.scripted(route, model if isinstance(model, str) and model else "scripted"):
            return None
        if not isinstance(parsed, dict):
            return self.send(400, error_body(route, 400, "the request body is not a JSON object"))
        if not isinstance(model, str) or not model:
            return self.send(400, error_body(route, 400, "model is required"))
        prompt = last_user(route, parsed)
        return self.send(200, ok_body(route, model, "echo: " + prompt[:200], prompt))

    @staticmethod
    def route_of(path):
        if path == "/v1/messages":
            return "anthropic"
        if path.startswith("/v1beta/models/") and path.endswith(":generateContent"):
            return "gemini"
        if path == "/api/chat":
            return "ollama"
        if path == "/v1/chat/completions":
            return "openai"
        if path.startswith("/repos/"):
            return "github"
        return None

    def check_credentials(self, route, query):
        with lock:
            key = state["keys"].get(route)
        if route == "anthropic":
            if not self.headers.get("anthropic-version"):
                return 400, error_body(route, 400, "anthropic-version: header is required")
            if key and self.headers.get("x-api-key") != key:
                return 401, error_body(route, 401, "invalid x-api-key")
        elif route == "gemini" and key:
            given = self.headers.get("x-goog-api-key") or parse_qs(query).get("key", [None])[0]
            if given is None:
                return 403, error_body(route, 403, "Method doesn't allow unregistered callers (callers without "
                                       "established identity). Please use API Key or other form of API consumer "
                                       "identity to call this API.")
            if given != key:
                body = error_body(route, 400, "API key not valid. Please pass a valid API key.")
                body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                             "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                                             "metadata": {"service": "generativelanguage.googleapis.com"}}]
                return 400, body
        elif route == "openai" and key:
            auth = self.headers.get("Authorization")
            if not auth:
                return 401, error_body(route, 401, "You didn't provide an API key. You need to provide your API "
                                       "key in an Authorization header using Bearer auth (i.e. Authorization: "
                                       "Bearer YOUR_KEY).")
            if auth != "Bearer " + key:
                return 401, error_body(route, 401, "Incorrect API key provided. You can find your API key at "
                                       "https://platform.openai.com/account/api-keys.")
        elif route == "github" and key:
            auth = self.headers.get("Authorization")
            if auth not in ("Bearer " + key, "token " + key):
                return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                             "status": "401"}
        return None

    def scripted(self, route, model="scripted"):
        """Answers the request from route's script when one is queued; False when none is."""
        with lock:
            q = state["scripts"][route]
            entry = q.pop(0) if q else None
        if entry is None:
            return False
        if entry.get("delay_ms"):
            time.sleep(float(entry["delay_ms"]) / 1000.0)
        if entry.get("close"):
            self.drop()
            return True
        status = int(entry.get("status", 200))
        ctype = entry.get("content_type")
        if "body" in entry:
            b = entry["body"]
            raw = b.encode("utf-8", "surrogatepass") if isinstance(b, str) else \
                json.dumps(b, ensure_ascii=False).encode("utf-8", "surrogatepass")
            self.send(status, raw=raw, ctype=ctype or "application/json")
        elif route == "github":
            if "text" in entry:
                self.send(status, raw=entry["text"].encode("utf-8", "surrogatepass"),
                          ctype=ctype or "text/plain; charset=utf-8")
            else:
                self.send(status, error_body(route, status) if status >= 300 else {}, ctype=ctype or
                          "application/json; charset=utf-8")
        elif 200 <= status < 300:
            self.send(status, ok_body(route, model, entry.get("text", "")), ctype=ctype or "application/json")
        else:
            self.send(status, error_body(route, status, entry.get("text")), ctype=ctype or "application/json")
        return True

    # ---- GitHub ------------------------------------------------------------------------------------------------

    def github(self, path, query):
        refused = self.check_credentials("github", query)
        if refused:
            return self.send(*refused)
        if self.scripted("github"):
            return None
        parts = path.split("/")  # "", "repos", o, r, kind, [ref]
        not_found = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}
        if self.command != "GET" or len(parts) < 5:
            return self.send(404, not_found)
        repo = parts[2] + "/" + parts[3]
        with lock:
            fx = json.loads(json.dumps(state["github"].get(repo))) if repo in state["github"] else None
        if fx is None:
            return self.send(404, not_found)
        accept = self.headers.get("Accept") or ""
        wants_diff = "application/vnd.github.v3.diff" in accept or "application/vnd.github.diff" in accept
        pulls = fx.get("pulls") or {}
        if len(parts) == 5 and parts[4] == "pulls":
            q = {k: v[0] for k, v in parse_qs(query).items()}
            st = q.get("state", "open")
            out = [self.pull_json(repo, int(n), p) for n, p in pulls.items()
                   if st == "all" or p.get("state", "open") == st]
            key = "updated_at" if q.get("sort") == "updated" else "number"
            out.sort(key=lambda p: (p[key], p["number"]), reverse=q.get("direction", "desc") != "asc")
            per_page = max(1, min(100, int(q.get("per_page", "30") or 30)))
            return self.send(200, out[:per_page], ctype="application/json; charset=utf-8")
        if len(parts) == 6 and parts[4] == "pulls" and parts[5].isdigit() and parts[5].lstrip("0") in pulls:
            n = parts[5].lstrip("0")
            if wants_diff:
                return self.send(200, raw=pulls[n].get("diff", "").encode(), ctype="text/plain; charset=utf-8")
            return self.send(200, self.pull_json(repo, int(n), pulls[n]), ctype="application/json; charset=utf-8")
        if len(parts) == 6 and parts[4] == "commits":
            ref = parts[5].lower()
            commits = fx.get("commits") or {}
            hits = [s for s in commits if s.lower() == ref] or \
                   ([s for s in commits if s.lower().startswith(ref)] if len(ref) >= 7 else [])
            if len(hits) != 1:
                return self.send(404 if not hits else 422, not_found if not hits else
                                 {"message": "No commit found for SHA: " + ref, "status": "422"})
            sha = hits[0]
            c = commits[sha]
            if wants_diff:
                return self.send(200, raw=c.get("diff", "").encode(), ctype="text/plain; charset=utf-8")
            return self.send(200, {"sha": sha, "node_id": "C_fake" + sha[:8],
                                   "commit": {"message": c.get("message", ""),
                                              "author": {"name": "Fake Author", "email": "fake@example.com",
                                                         "date": c.get("date", "2025-01-01T00:00:00Z")}},
                                   "html_url": "https://github.com/%s/commit/%s" % (repo, sha),
                                   "author": {"login": "fake-author"}, "files": []},
                             ctype="application/json; charset=utf-8")
        return self.send(404, not_found)

    @staticmethod
    def pull_json(repo, n, p):
        updated = p.get("updated_at", "2025-01-01T00:00:00Z")
        return {"url": "https://api.github.com/repos/%s/pulls/%d" % (repo, n), "id": 1000000 + n, "number": n,
                "state": p.get("state", "open"), "title": p.get("title", ""), "user": {"login": "fake-author"},
                "body": p.get("body", ""), "created_at": p.get("created_at", updated), "updated_at": updated,
                "html_url": "https://github.com/%s/pull/%d" % (repo, n),
                "diff_url": "https://github.com/%s/pull/%d.diff" % (repo, n),
                "head": {"ref": p.get("branch", "feature-%d" % n), "sha": p.get("sha", sha_of(repo, n, "head"))},
                "base": {"ref": "main", "sha": sha_of(repo, "main")}}

    # ---- control -----------------------------------------------------------------------------------------------

    def control(self, path, raw):
        if path == "/_control/requests":
            with lock:
                return self.send(200, state["requests"])
        if path == "/_control/reset":
            reset()
            return self.send(200, {"ok": True})
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            return self.send(400, {"error": "control bodies are JSON"})
        if not isinstance(doc, dict):
            return self.send(400, {"error": "control bodies are JSON objects"})
        if path == "/_control/script":
            route, responses = doc.get("route"), doc.get("responses")
            if route not in ROUTES or not isinstance(responses, list) or \
                    not all(isinstance(r, dict) for r in responses):
                return self.send(400, {"error": "route must be one of %s and responses a list of objects" %
                                       (ROUTES,)})
            with lock:
                state["scripts"][route].extend(responses)
            return self.send(200, {"ok": True})
        if path == "/_control/keys":
            with lock:
                for k, v in doc.items():
                    if k not in ROUTES or (v is not None and not isinstance(v, str)):
                        return self.send(400, {"error": "keys: unknown route or not a string: " + k})
                    if v:
                        state["keys"][k] = v
                    else:
                        state["keys"].pop(k, None)
            return self.send(200, {"ok": True})
        if path == "/_control/github":
            with lock:
                state["github"] = doc
            return self.send(200, {"ok": True})
        return self.send(404, {"error": "no such control route"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # clients hang up on purpose (timeouts under test)
        pass


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    print("PORT %d" % srv.server_address[1], flush=True)
    if "--exit-on-stdin-eof" in sys.argv[1:]:
        def watch():
            sys.stdin.buffer.read()
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    threading.Thread(target=lambda: (time.sleep(1800), os._exit(0)), daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
