"""Run the gateway on uvicorn (httptools parser, writes batched under load) on one port.

The socket is bound here, before uvicorn starts, so ``--port 0`` works and the
ready line can name the real port. The ready line is printed only once uvicorn
accepts connections and every service has started (lifespan complete).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

import uvicorn

from cloudlet.config import ServerConfig
from cloudlet.gateway.app import Gateway
from cloudlet.http_batching import BatchingHttpProtocol

READY_PREFIX = "cloudlet ready on "


def _loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


async def serve(config: ServerConfig) -> None:
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    gateway = Gateway(config)
    sock = bind(config.host, config.port)
    port = sock.getsockname()[1]
    host = f"[{config.host}]" if ":" in config.host else config.host
    gateway.env.endpoint = f"http://{host}:{port}"
    uv_config = uvicorn.Config(
        gateway,
        http=BatchingHttpProtocol,
        loop="none",
        lifespan="on",
        access_log=False,
        log_level=config.log_level.lower(),
        timeout_graceful_shutdown=3,
        timeout_keep_alive=75,
        server_header=False,
        proxy_headers=False,
        date_header=True,
    )
    uv_config.cloudlet_request_timeout = config.request_timeout  # type: ignore[attr-defined]
    server = uvicorn.Server(uv_config)

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.005)
        print(f"{READY_PREFIX}{gateway.env.endpoint}", flush=True)

    async def watch_parent(parent: int) -> None:
        # Test harnesses set CLOUDLET_EXIT_WITH_PARENT so a server never
        # outlives the process that started it, even if that one is killed.
        while os.getppid() == parent:
            await asyncio.sleep(0.5)
        server.should_exit = True

    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(announce())]
    if os.environ.get("CLOUDLET_EXIT_WITH_PARENT"):
        tasks.append(loop.create_task(watch_parent(os.getppid())))
    try:
        await server.serve(sockets=[sock])
    finally:
        for task in tasks:
            task.cancel()
        sock.close()


def run(config: ServerConfig) -> int:
    # uvicorn handles SIGTERM/SIGINT itself (graceful shutdown, lifespan, reaping)
    # and then re-raises the signal. After a clean shutdown SIGTERM should mean
    # "exit 0", so its re-raise lands in this no-op rather than the default
    # handler, which would kill the process with status -15.
    signal.signal(signal.SIGTERM, lambda *_: None)
    if _loop_name() == "uvloop":
        import uvloop

        runner = uvloop.run
    else:
        runner = asyncio.run
    try:
        runner(serve(config))
    except KeyboardInterrupt:
        pass
    return 0
