"""A port already taken on this machine is reported by the name of the server that wanted it."""

import socket

import pytest

from nemo_gym.config.ports import check_ports_free
from nemo_gym.errors import PortError


def test_port_in_use_is_reported_by_server_name() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortError, match="my_server"):
            check_ports_free([("my_server", "127.0.0.1", port)])
