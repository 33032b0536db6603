"""``ng_status``: ask the head server which servers it started, then check each one's health.

``StatusCommand().discover_servers()`` returns one ``ServerInstanceDisplayConfig`` per server with ``status``
(``success``, ``connection_error``, ``timeout`` or ``unknown_error``) and ``uptime_seconds`` filled in;
``display_status(servers)`` prints them. A server is healthy when ``GET <url>/health`` answers 2xx within 2 s.
"""

import time

import httpx
from rich.console import Console

from nemo_gym.config.schema import HeadServerConfig
from nemo_gym.config.shape import connectable_url
from nemo_gym.http.server_client import ServerClient, ServerStatus
from nemo_gym.runtime.display_config import ServerInstanceDisplayConfig

HEALTH_TIMEOUT_S = 2.0
HEAD_SERVER_TIMEOUT_S = 5.0

__all__ = ["StatusCommand"]


def format_uptime(seconds: float) -> str:
    """``<d>d <h>h <m>m <s.s>s``."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(days)}d {int(hours)}h {int(minutes)}m {secs:.1f}s"


class StatusCommand:
    """The servers a running ``ng_run``'s head server knows about, and whether each is healthy.

    ``head_server_config`` defaults to the global config's ``head_server`` (127.0.0.1:11000 unless set).
    """

    def __init__(self, head_server_config: HeadServerConfig | None = None, console: Console | None = None) -> None:
        self.head_server_config = head_server_config
        self.console = console or Console(highlight=False)

    def check_health(self, server_info: ServerInstanceDisplayConfig) -> ServerStatus:
        """``success`` when the server answers ``GET /health`` with 2xx; otherwise the kind of failure."""
        if not server_info.url:
            return "unknown_error"
        try:
            response = httpx.get(connectable_url(server_info.url).rstrip("/") + "/health", timeout=HEALTH_TIMEOUT_S)
        except httpx.ConnectError:
            return "connection_error"
        except httpx.TimeoutException:
            return "timeout"
        except Exception:
            return "unknown_error"
        return "success" if response.is_success else "unknown_error"

    def discover_servers(self) -> list[ServerInstanceDisplayConfig]:
        """Every server of the head server's ``/server_instances``, health-checked in order; ``[]`` (after
        saying so) when no head server answers."""
        head = self.head_server_config or ServerClient.load_head_server_config()
        url = connectable_url(f"http://{head.host}:{head.port}") + "/server_instances"
        try:
            response = httpx.get(url, timeout=HEAD_SERVER_TIMEOUT_S)
            response.raise_for_status()
            records = response.json()
        except (httpx.HTTPError, ValueError) as error:
            self.console.print(f"\nCould not connect to head server at {url}: {type(error).__name__}", markup=False)
            self.console.print("Is the head server running? Start it with: `ng_run`", markup=False)
            return []
        now = time.time()
        servers = []
        for record in records:
            server = ServerInstanceDisplayConfig.model_validate(record)
            server.uptime_seconds = now - server.start_time if server.start_time else 0.0
            server.status = self.check_health(server)
            servers.append(server)
        return servers

    def display_status(self, servers: list[ServerInstanceDisplayConfig]) -> None:
        if not servers:
            self.console.print("No NeMo Gym servers found running.", markup=False)
            return
        self.console.print("\nNeMo Gym Server Status:\n", markup=False)
        for index, server in enumerate(servers, start=1):
            mark = "✓" if server.status == "success" else "✗"
            self.console.print(
                f"[{index}] {mark} {server.process_name} ({server.server_type}/{server.name})", markup=False
            )
            details = {
                "server_type": server.server_type,
                "name": server.name,
                "port": server.port,
                "pid": server.pid,
                "uptime_seconds": format_uptime(server.uptime_seconds or 0.0),
            }
            self.console.print(f"    {details}", markup=False)
        healthy = sum(1 for server in servers if server.status == "success")
        self.console.print(
            f"\n{len(servers)} servers found ({healthy} healthy, {len(servers) - healthy} unhealthy)\n", markup=False
        )
