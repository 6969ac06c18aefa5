# A real HTTP server for the tests' pings: 200 for /ping/..., 500 for
# /broken/..., 404 otherwise; every request path is appended to LOG; the port
# it listens on (127.0.0.1, chosen by the kernel) is written to PORTFILE.
import http.server, os, sys, threading
log, portfile = sys.argv[1], sys.argv[2]
lock = threading.Lock()
class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        with lock, open(log, "a") as f:
            f.write(self.path + "\n")
        code = 200 if self.path.startswith("/ping/") else 500 if self.path.startswith("/broken/") else 404
        body = b"OK\n" if code == 200 else b"no\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    do_GET = do_POST = do_HEAD = answer
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".new", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(portfile + ".new", portfile)
server.serve_forever()
