"""testapp.py - the Flask app moat's integration tests run behind moat (under gunicorn)."""
import hashlib
import json
import time

from flask import Flask, Response, request

app = Flask(__name__)

CHUNK = 64 * 1024
PERIOD = 251
# Pattern byte at offset i is i % 251; a slice of BLOCK starting at i % 251 is always
# long enough for one CHUNK.
BLOCK = bytes(range(PERIOD)) * (CHUNK // PERIOD + 2)


def pattern(n):
    """Yields n bytes of the test pattern in CHUNK-sized pieces."""
    off = 0
    while off < n:
        take = min(CHUNK, n - off)
        start = off % PERIOD
        yield BLOCK[start:start + take]
        off += take


@app.route("/")
def index():
    body = "<!doctype html><title>moat test app</title><p>hello from the test app</p>\n"
    return Response(body, mimetype="text/html")


@app.route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def echo():
    digest = hashlib.sha256()
    length = 0
    stream = request.stream
    while True:
        piece = stream.read(CHUNK)
        if not piece:
            break
        digest.update(piece)
        length += len(piece)
    doc = {
        "method": request.method,
        "path": request.path,
        "query": request.query_string.decode("latin-1"),
        "headers": [[k, v] for k, v in request.headers.items()],
        "body_len": length,
        "body_sha256": digest.hexdigest(),
    }
    return Response(json.dumps(doc, separators=(",", ":")), mimetype="application/json")


@app.route("/bytes/<int:n>")
def some_bytes(n):
    headers = {}
    if request.args.get("cl") == "1":
        headers["Content-Length"] = str(n)
    return Response(pattern(n), mimetype="application/octet-stream", headers=headers)


@app.route("/status/<int:code>")
def status(code):
    if code in (204, 304):
        return Response(status=code)
    return Response("status %d\n" % code, status=code, mimetype="text/plain")


@app.route("/head-test", methods=["GET", "HEAD"])
def head_test():
    return Response("head-test body\n", mimetype="text/plain", headers={"X-Head-Test": "1"})


@app.route("/nocontent")
def nocontent():
    return Response(status=204, headers={"X-Nocontent": "1"})


@app.route("/notmodified")
def notmodified():
    return Response(status=304, headers={"ETag": '"v1"'})


@app.route("/slow/<int:ms>")
def slow(ms):
    time.sleep(ms / 1000.0)
    return Response("slept %d ms\n" % ms, mimetype="text/plain")


@app.route("/empty-header")
def empty_header():
    return Response("empty header\n", mimetype="text/plain", headers={"X-Empty": ""})


@app.route("/set-hop")
def set_hop():
    # gunicorn itself drops Connection and Keep-Alive set by an app; the raw upstream in
    # the C tests covers those. X-Leak stays here.
    return Response("hop\n", mimetype="text/plain",
                    headers={"Connection": "X-Leak", "X-Leak": "1", "Keep-Alive": "timeout=5"})


@app.route("/sech/own")
def sech_own():
    # An app that sets its own security headers and leaky ones (test_headers.c).
    return Response("own headers\n", mimetype="text/plain", headers={
        "Content-Security-Policy": "default-src 'self' https://app.example",
        "X-Frame-Options": "SAMEORIGIN",
        "Referrer-Policy": "no-referrer",
        "X-Powered-By": "PHP/5.6",
        "X-AspNet-Version": "4.0",
        "Server": "AppServer/1.0",
    })


@app.route("/sech/nonce")
def sech_nonce():
    # Renders the nonce moat handed over into an inline script, as a template would.
    nonce = request.headers.get("X-CSP-Nonce", "")
    body = ('<!doctype html><title>nonce</title>'
            '<script nonce="%s">document.title = "ran";</script>\n' % nonce)
    return Response(body, mimetype="text/html")


@app.route("/sech/cookies")
def sech_cookies():
    resp = Response("cookies\n", mimetype="text/plain")
    resp.headers.add("Set-Cookie", "session=abc123; Path=/")
    resp.headers.add("Set-Cookie", "csrftoken=tok; Path=/")
    resp.headers.add("Set-Cookie", "strict=1; Path=/; SameSite=Strict")
    resp.headers.add("Set-Cookie", "done=1; Secure; HttpOnly; SameSite=Lax")
    resp.headers.add("Set-Cookie", "nameless-secret-value; Path=/")
    return resp


@app.route("/.well-known/acme-challenge/<token>")
def acme_challenge(token):
    # An ACME http-01 answer (test_redirect.c). It also sends headers the plain-HTTP
    # relay must not pass on (HSTS over http, cookies, leaky ones).
    body = "%s.thumbprint host=%s proto=%s\n" % (
        token, request.headers.get("Host", ""), request.headers.get("X-Forwarded-Proto", ""))
    resp = Response(body, mimetype="text/plain")
    resp.headers["Strict-Transport-Security"] = "max-age=31536000"
    resp.headers["X-Powered-By"] = "Flask"
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers.add("Set-Cookie", "acme=1; Path=/")
    return resp


@app.route("/docs/<path:rest>")
def docs(rest):
    # A page under /docs/ for per-path header overrides (test_headers.c).
    return Response("<!doctype html><title>docs</title><p>%s</p>\n" % len(rest),
                    mimetype="text/html")
