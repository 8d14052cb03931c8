"""The links benchmark's site: 2,000 pages (/p/N.html, about 11 links each), 400 broken URLs
(/missing/N answer 404) and a start page (/), served over HTTP/1.1 with keep-alive on 127.0.0.1.
Every request is counted by method and path; GET /__counts returns the counts as JSON.

usage: python3 links_site.py PORT [PAGES] [BROKEN]
"""
import json
import random
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[1])
pages = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
broken = int(sys.argv[3]) if len(sys.argv) > 3 else 400
rng = random.Random(7)


def page_links(i):
    links = [f"/p/{c}.html" for c in (2 * i + 1, 2 * i + 2) if c < pages]
    links += [f"/p/{rng.randrange(pages)}.html" for _ in range(8)]
    links.append(f"/missing/{i % broken}")
    return links


bodies = {"/": '<!doctype html><title>start</title><a href="/p/0.html">pages</a>'}
for i in range(pages):
    anchors = "".join(f'<li><a href="{href}">link {n}</a></li>' for n, href in enumerate(page_links(i)))
    bodies[f"/p/{i}.html"] = f"<!doctype html><title>page {i}</title><h1>Page {i}</h1><ul>{anchors}</ul>"
bodies = {path: body.encode() for path, body in bodies.items()}
counts = Counter()
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Head and body leave in one write on a TCP_NODELAY socket: no Nagle/delayed-ACK stalls on
    # keep-alive connections (lychee's), none on fresh ones (Aviary's).
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def answer(self, with_body):
        if self.path == "/__counts":
            with lock:
                body = json.dumps({f"{m} {p}": n for (m, p), n in counts.items()}).encode()
            status = 200
        else:
            with lock:
                counts[(self.command, self.path)] += 1
            body = bodies.get(self.path)
            status = 200 if body is not None else 404
            body = body if body is not None else b"not found"
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.append(b"\r\n")
        head = b"".join(self._headers_buffer)
        self._headers_buffer = []
        self.wfile.write(head + body if with_body else head)

    def do_GET(self):
        self.answer(True)

    def do_HEAD(self):
        self.answer(False)


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 1024
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
