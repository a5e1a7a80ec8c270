"""app.py - the demo Flask app the README runs behind moat: one page, a form echo, /healthz.

Behind moat, each request carries a fresh CSP nonce in the X-CSP-Nonce header; the page
template puts it on its inline script, so that script runs under moat's Content-Security-Policy
while an inline script without the nonce is blocked by the browser. Without moat there is no
nonce and no CSP, and both scripts run (the page says so).
"""
import base64
import hashlib
import secrets
from html import escape

from flask import Flask, Response, request

app = Flask(__name__)

# Headers worth showing first: the ones moat adds or rewrites on the way in.
INTERESTING = ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded",
               "X-Request-Id", "Host")

STYLE = """
:root { color-scheme: light dark; --accent: #2f6f8f; --muted: #667; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       background: Canvas; color: CanvasText; }
main { max-width: 46rem; margin: 3rem auto; padding: 0 1.25rem; }
h1 { font-size: 1.8rem; margin: 0 0 .25rem; }
h1 span { color: var(--accent); }
p.lead { color: var(--muted); margin-top: 0; }
section { border: 1px solid color-mix(in srgb, CanvasText 15%, transparent);
          border-radius: .6rem; padding: 1rem 1.25rem; margin: 1.5rem 0; }
h2 { font-size: 1.1rem; margin: 0 0 .75rem; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .3rem .5rem; vertical-align: top;
         border-bottom: 1px solid color-mix(in srgb, CanvasText 10%, transparent); }
th { white-space: nowrap; font-weight: 600; width: 12rem; }
td code { word-break: break-all; }
tr.hl th { color: var(--accent); }
input[type=text], textarea { width: 100%; box-sizing: border-box; font: inherit;
         padding: .4rem .5rem; border-radius: .35rem; border: 1px solid #999; }
button { font: inherit; padding: .4rem 1rem; border-radius: .35rem; border: 0;
         background: var(--accent); color: white; cursor: pointer; margin-top: .5rem; }
footer { color: var(--muted); font-size: .85rem; }
output.ok { color: #1a7f37; font-weight: 600; }
output.bad { color: #b42318; font-weight: 600; }
"""

# Served from /app.js and loaded with Subresource Integrity. It only sets text
# (no innerHTML), so it also runs under the strict profile's Trusted Types.
APP_JS = """document.getElementById("sri").textContent = "ran";
document.getElementById("sri").className = "ok";
"""
APP_JS_SRI = "sha384-" + base64.b64encode(hashlib.sha384(APP_JS.encode()).digest()).decode()

# The request header moat puts the per-request CSP nonce in (headers.nonce_header).
NONCE_HEADER = "X-CSP-Nonce"


def header_rows():
    """The received request headers as table rows, moat's forwarding headers first."""
    items = list(request.headers.items())
    first = [(k, v) for k, v in items if k in INTERESTING]
    rest = [(k, v) for k, v in items if k not in INTERESTING]
    rows = []
    for name, value in first + rest:
        cls = ' class="hl"' if name in INTERESTING else ""
        rows.append("<tr%s><th>%s</th><td><code>%s</code></td></tr>"
                    % (cls, escape(name), escape(value) if value else "<em>(empty)</em>"))
    return "\n".join(rows)


def nonce_attr():
    """ nonce="..." for inline scripts when moat sent a nonce, else "" (no CSP then)."""
    nonce = request.headers.get(NONCE_HEADER, "")
    return ' nonce="%s"' % escape(nonce) if nonce else ""


def csp_section():
    """Shows, live in the browser, which scripts the Content-Security-Policy let run."""
    return """
<section>
<h2>Content Security Policy, enforced by your browser</h2>
<table>
<tr><th>inline script with moat's nonce</th><td><output id="csp-nonce" class="bad">blocked</output></td></tr>
<tr><th>inline script without a nonce</th><td><output id="csp-plain" class="ok">blocked</output></td></tr>
<tr><th>/app.js with Subresource Integrity</th><td><output id="sri" class="bad">blocked</output></td></tr>
</table>
</section>
<script%s>
document.getElementById("csp-nonce").textContent = "ran";
document.getElementById("csp-nonce").className = "ok";
</script>
<script>
document.getElementById("csp-plain").textContent = "ran (no Content-Security-Policy in force)";
document.getElementById("csp-plain").className = "bad";
</script>
<script src="/app.js" integrity="%s"%s></script>
""" % (nonce_attr(), APP_JS_SRI, nonce_attr())


def page(title, body):
    """A complete HTML page around body (already escaped)."""
    html = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<link rel="stylesheet" href="/style.css">
</head>
<body><main>
%s
<footer>Plain Flask behind moat. Nothing here knows about TLS: moat terminates it and
forwards the request over plain HTTP.</footer>
</main></body>
</html>
""" % (escape(title), body)
    return Response(html, mimetype="text/html")


@app.route("/")
def index():
    proto = request.headers.get("X-Forwarded-Proto", "")
    via = ("This page was served through <strong>moat</strong> over HTTPS."
           if proto == "https" else
           "This request did not come through moat (no X-Forwarded-Proto: https).")
    body = """
<h1>Hello from behind the <span>moat</span></h1>
<p class="lead">%s</p>
<section>
<h2>Headers this app received</h2>
<table>
%s
</table>
</section>
<section>
<h2>Send something</h2>
<form method="post" action="/echo">
<label for="message">Message</label>
<input type="text" id="message" name="message" placeholder="Anything you like">
<button type="submit">Post to /echo</button>
</form>
</section>
%s""" % (via, header_rows(), csp_section())
    resp = page("moat demo", body)
    if "demo_session" not in request.cookies:
        # Set the way many apps do, without attributes: moat adds Secure, HttpOnly
        # and SameSite=Lax on the way out.
        resp.headers.add("Set-Cookie", "demo_session=%s; Path=/" % secrets.token_urlsafe(16))
    return resp


@app.route("/echo", methods=["GET", "POST"])
def echo():
    message = request.form.get("message", "") if request.method == "POST" else ""
    body = """
<h1>Echo</h1>
<p class="lead">%s request, %d body bytes. <a href="/">Back</a></p>
<section>
<h2>You sent</h2>
<p><code>%s</code></p>
</section>
<section>
<h2>Headers this app received</h2>
<table>
%s
</table>
</section>
""" % (escape(request.method), request.content_length or 0,
       escape(message) if message else "<em>(nothing)</em>", header_rows())
    return page("moat demo: echo", body)


@app.route("/app.js")
def app_js():
    return Response(APP_JS, mimetype="text/javascript")


@app.route("/style.css")
def style():
    return Response(STYLE, mimetype="text/css")


@app.route("/healthz")
def healthz():
    return Response("ok\n", mimetype="text/plain")
