"""Port allocation that does not race within one run, and checks of explicit ports."""

import random
import socket
from collections.abc import Iterable

from nemo_gym.errors import PortError

DEFAULT_HEAD_SERVER_PORT = 11000


def _bind(host: str, port: int) -> socket.socket:
    # SO_REUSEADDR like uvicorn, so a port in TIME_WAIT is free for us too, and a listening one is not.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def find_open_port(disallowed_ports: Iterable[int] = (), max_retries: int = 50, host: str = "") -> int:
    """An OS-assigned free port that is not in ``disallowed_ports`` (the reference's helper)."""
    disallowed = set(disallowed_ports)
    for _ in range(max_retries):
        with _bind(host, 0) as sock:
            port = sock.getsockname()[1]
        if port not in disallowed:
            return port
    raise PortError(
        f"Unable to find an open port that doesn't conflict with disallowed ports {sorted(disallowed)} "
        f"after {max_retries} attempts"
    )


class PortAllocator:
    """Hands out distinct free ports for one run.

    Each allocated port stays bound until ``release()``, so two servers of the same run can never be given
    the same port and the OS cannot hand it out twice meanwhile.
    """

    def __init__(self, disallowed_ports: Iterable[int] = (), port_range: tuple[int, int] | None = None) -> None:
        self.disallowed: list[int] = list(dict.fromkeys(disallowed_ports))
        self.port_range = port_range
        self._held: list[socket.socket] = []

    def allocate(self, host: str = "") -> int:
        bind_host = "" if host in ("0.0.0.0", "localhost") else host
        if self.port_range is not None:
            return self._allocate_in_range(bind_host)
        for _ in range(50):
            try:
                sock = _bind(bind_host, 0)
            except OSError:
                sock = _bind("", 0)
            port = sock.getsockname()[1]
            if port in self.disallowed:
                sock.close()
                continue
            self._held.append(sock)
            self.disallowed.append(port)
            return port
        raise PortError(f"Unable to find an open port outside {self.disallowed} after 50 attempts")

    def _allocate_in_range(self, bind_host: str) -> int:
        low, high = self.port_range
        candidates = [port for port in range(low, high + 1) if port not in self.disallowed]
        random.shuffle(candidates)  # several runs sharing a range rarely race for the same port
        for port in candidates:
            try:
                sock = _bind(bind_host, port)
            except OSError:
                continue
            self._held.append(sock)
            self.disallowed.append(port)
            return port
        raise PortError(f"port_range_low/port_range_high: no free port left in {low}-{high}")

    def claim(self, port: int) -> None:
        self.disallowed.append(port)

    def release(self) -> None:
        for sock in self._held:
            sock.close()
        self._held.clear()


def port_is_free(host: str, port: int) -> bool:
    bind_host = "" if host in ("0.0.0.0", "localhost") else host
    try:
        _bind(bind_host, port).close()
    except OSError:
        return False
    return True


def check_ports_free(named_ports: Iterable[tuple[str, str, int]]) -> None:
    """Raise PortError naming the first server whose explicit (host, port) is already taken."""
    for name, host, port in named_ports:
        if not port_is_free(host, port):
            raise PortError(f"{name}: port {port} on {host} is already in use by another process")
