"""A bounded HTTP load through the sandbox's nginx: N concurrent clients, counted failures.

Each request opens its own connection (as a client behind a NAT or a browser after a reload
would), so a failure counted here is the server's: a 5xx, a reset, a refused or timed-out
connection. Bounded in requests and seconds; loopback only.
"""
import collections
import http.client
import threading
import time


class Load(object):
    def __init__(self, port, host_header, paths=("/",), concurrency=50, max_seconds=180,
                 max_requests=500000, timeout=10):
        self.port = port
        self.host = host_header
        self.paths = list(paths)
        self.concurrency = concurrency
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self.timeout = timeout
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.total = 0
        self.failed = 0
        self.statuses = collections.Counter()
        self.errors = collections.Counter()
        self.threads = []
        self.latencies = []  # seconds per answered request (a list append: no lock needed)

    def _one(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            c.request("GET", path, headers={"Host": self.host, "Connection": "close"})
            r = c.getresponse()
            r.read()
            return r.status, None
        except Exception as e:  # every kind of failure is counted, by its type
            return None, type(e).__name__
        finally:
            c.close()

    def _worker(self, k):
        end = time.monotonic() + self.max_seconds
        i = k
        while not self._stop.is_set() and time.monotonic() < end:
            path = self.paths[i % len(self.paths)]
            i += 1
            t0 = time.monotonic()
            status, err = self._one(path)
            if status is not None:
                self.latencies.append(time.monotonic() - t0)
            with self._lock:
                if self.total >= self.max_requests:
                    return
                self.total += 1
                if err:
                    self.failed += 1
                    self.errors[err] += 1
                else:
                    self.statuses[status] += 1
                    if status >= 500:
                        self.failed += 1

    def start(self):
        for k in range(self.concurrency):
            t = threading.Thread(target=self._worker, args=(k,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self.threads:
            t.join(self.timeout + 5)
        return self.result()

    def result(self):
        return {"total": self.total, "failed": self.failed, "statuses": dict(self.statuses),
                "errors": dict(self.errors), "concurrency": self.concurrency}
