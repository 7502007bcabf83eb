#!/usr/bin/env python3
"""N Server-Sent-Events clients of `agentlane serve` in one process, for
scripts/bench-serve.sh: each holds GET /api/v1/events open, keeps the raw
bytes it reads and the time of each read (nothing is parsed while the
workers run, so the clients cost as little CPU as they can), and on SIGTERM
or SIGINT parses what it got and writes a JSON summary: per client the event
ids (`seq`) received and, per event, when its bytes arrived.

Usage: sse_clients.py HOST:PORT N OUT.json [READY_FILE]
READY_FILE is created once every client has its response headers.
"""

import asyncio
import json
import re
import signal
import sys
import time

# axum writes `id: N` lines; a data line is one JSON object, so "\nid: "
# only starts a line (a literal prefix: the regex engine searches it fast).
ID_LINE = re.compile(rb"\nid: (\d+)\n")
LAGGED = re.compile(rb"\nevent: lagged\n")


class Client:
    def __init__(self):
        self.head = b""
        self.chunked = False
        self.reads = []  # (raw end offset, time)
        self.raw = bytearray()
        self.error = None


async def run_client(host, port, c, connected):
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            f"GET /api/v1/events HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        c.head = head
        c.chunked = b"transfer-encoding: chunked" in head.lower()
        if not head.startswith(b"HTTP/1.1 200"):
            c.error = head.split(b"\r\n", 1)[0].decode(errors="replace")
        connected()
        while True:
            data = await reader.read(1 << 16)
            if not data:
                c.error = c.error or "the server closed the stream"
                return
            c.raw += data
            c.reads.append((len(c.raw), time.time()))
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001 - reported in the summary
        c.error = f"{type(e).__name__}: {e}"
        connected()


def dechunk(raw):
    """The body of a chunked response and, per data segment, (data offset, raw offset)."""
    out, segs, i = bytearray(), [], 0
    while True:
        j = raw.find(b"\r\n", i)
        if j < 0:
            break
        size = int(raw[i:j].split(b";")[0] or b"0", 16)
        if size == 0 or j + 2 + size > len(raw):
            segs.append((len(out), j + 2))
            out += raw[j + 2 : j + 2 + size]
            break
        segs.append((len(out), j + 2))
        out += raw[j + 2 : j + 2 + size]
        i = j + 2 + size + 2
    return bytes(out), segs


def summarize(c):
    import bisect

    if c.chunked:
        body, segs = dechunk(bytes(c.raw))
        starts = [s[0] for s in segs]

        def raw_offset(o):
            k = bisect.bisect_right(starts, o) - 1
            return segs[k][1] + (o - segs[k][0]) if k >= 0 else o
    else:
        body = bytes(c.raw)

        def raw_offset(o):
            return o

    body = b"\n" + body  # the first event's `id` line starts a line too

    def at(o):  # an offset in `body` (one byte ahead) -> the raw offset
        return raw_offset(o - 1)

    ends = [r[0] for r in c.reads]
    ids, arrivals = [], []
    for m in ID_LINE.finditer(body):
        ids.append(int(m.group(1)))
        k = bisect.bisect_left(ends, at(m.end()))
        arrivals.append(c.reads[min(k, len(c.reads) - 1)][1] if c.reads else None)
    return {
        "error": c.error,
        "chunked": c.chunked,
        "bytes": len(c.raw),
        "ids": ids,
        "arrivals": arrivals,
        "lagged": len(LAGGED.findall(body)),
    }


async def main():
    addr, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    ready = sys.argv[4] if len(sys.argv) > 4 else None
    host, port = addr.rsplit(":", 1)
    clients = [Client() for _ in range(n)]
    pending = [n]

    def connected():
        pending[0] -= 1
        if pending[0] == 0 and ready:
            open(ready, "w").close()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    tasks = [asyncio.create_task(run_client(host, int(port), c, connected)) for c in clients]
    await stop.wait()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    with open(out, "w") as f:
        json.dump([summarize(c) for c in clients], f)


if __name__ == "__main__":
    asyncio.run(main())
