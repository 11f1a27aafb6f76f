"""Three HTTP/1.1 keep-alive "pods" in one process, for the real-nginx gateway test: each answers
every request after a fixed service time and logs, with time.time(), every connection it accepts,
every request on it and its close:

    O <pod> <conn> <t>            a connection opened
    R <pod> <conn> <t_received>   a request received on it
    C <pod> <conn> <t>            the peer (nginx) closed it

Usage: python pod_server.py LOG SERVICE_MS PORT ADDRESS... ; it writes LOG.ready once listening
and flushes the log on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time


async def serve(log: list[str], service_s: float, port: int, addresses: list[str], ready: str) -> None:
    ids = {a: 0 for a in addresses}

    def handler(pod: str):  # noqa: ANN202
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            ids[pod] += 1
            conn = ids[pod]
            log.append(f"O {pod} {conn} {time.time():.6f}")
            body = pod.encode()
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            try:
                while True:
                    await reader.readuntil(b"\r\n\r\n")  # GETs from nginx carry no body
                    log.append(f"R {pod} {conn} {time.time():.6f}")
                    await asyncio.sleep(service_s)
                    writer.write(answer)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
                pass  # the peer closed, or the server is stopping
            finally:
                log.append(f"C {pod} {conn} {time.time():.6f}")
                writer.close()
        return handle

    servers = [await asyncio.start_server(handler(a), a, port, backlog=512) for a in addresses]
    with open(ready, "w") as f:
        f.write("ready\n")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for s in servers:
        s.close()


def main() -> None:
    path, service_ms, port, *addresses = sys.argv[1:]
    log: list[str] = []
    try:
        asyncio.run(serve(log, float(service_ms) / 1000, int(port), addresses, path + ".ready"))
    finally:
        with open(path, "w") as f:
            f.write("\n".join(log) + "\n")


if __name__ == "__main__":
    main()
