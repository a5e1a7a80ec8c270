"""app.py - the demo Flask app the README runs behind moat: one page, a form echo, /healthz."""
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
"""


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
""" % (via, header_rows())
    return page("moat demo", body)


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


@app.route("/style.css")
def style():
    return Response(STYLE, mimetype="text/css")


@app.route("/healthz")
def healthz():
    return Response("ok\n", mimetype="text/plain")
