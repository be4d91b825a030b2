"""`asr-service serve --port P --port-search N`: a taken port moves the
service to the next free one (said in the log, the ready line carries the real
URL); without --port-search a taken port is an error line, as before."""
from __future__ import annotations

import socket

import httpx

from service.server import bind_first_free


def hold_ports(n: int) -> list[socket.socket]:
    """`n` consecutive loopback ports, each held by a listening socket (as
    another program would), with the port after them free; tries a few
    starts until it finds such a run."""
    for _ in range(50):
        first = socket.socket()
        first.bind(("127.0.0.1", 0))
        base = first.getsockname()[1]
        held = [first]
        try:
            for port in range(base + 1, base + n):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            for s in held:
                s.listen(1)
            # ...and the port after them must be free for the service to take.
            probe = socket.socket()
            probe.bind(("127.0.0.1", base + n))
            probe.close()
            return held
        except OSError:
            for s in held:
                s.close()
    raise AssertionError("found no run of free loopback ports")


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_a_taken_port_moves_the_service_to_the_next_free_one(service_factory):
    held = hold_ports(2)
    try:
        taken = held[0].getsockname()[1]
        svc = service_factory("--port", str(taken), "--port-search", "5")
        # Two ports are held: the service got the one right after them.
        assert port_of(svc.url) == taken + 2, svc.ready
        status = httpx.get(svc.url + "/v1/status", timeout=10).json()
        assert status["url"] == svc.url
        assert status["port"] == taken + 2 and status["requested_port"] == taken
        log = open(svc.stderr_path).read()
        assert f"Port {taken} on 127.0.0.1 is taken" in log, svc.stderr_tail()
        assert f"listens on port {taken + 2} instead" in log
        assert log.count("is taken by another program") == 1
    finally:
        for s in held:
            s.close()


def test_a_free_requested_port_is_used_as_it_is(service_factory):
    held = hold_ports(1)
    port = held[0].getsockname()[1]
    held[0].close()
    svc = service_factory("--port", str(port), "--port-search", "5")
    assert port_of(svc.url) == port
    assert "is taken" not in open(svc.stderr_path).read()


def test_without_port_search_a_taken_port_is_an_error(service_factory):
    held = hold_ports(1)
    try:
        taken = held[0].getsockname()[1]
        svc = service_factory("--port", str(taken), wait_ready=False)
        event = svc.wait_event()
        assert event["event"] == "error", event
        assert f"127.0.0.1:{taken}" in event["message"] and "--port-search" in event["message"]
        assert svc.popen.wait(30) == 2
    finally:
        for s in held:
            s.close()


def test_when_every_port_searched_is_taken_the_error_names_the_range(service_factory):
    held = hold_ports(3)
    try:
        taken = held[0].getsockname()[1]
        svc = service_factory("--port", str(taken), "--port-search", "2", wait_ready=False)
        event = svc.wait_event()
        assert event["event"] == "error", event
        assert f"ports {taken}-{taken + 2}" in event["message"], event
        assert svc.popen.wait(30) == 2
    finally:
        for s in held:
            s.close()


def test_the_search_binds_instead_of_checking(tmp_path):
    """What makes the race impossible: the socket returned is the bound one,
    listening already, so nothing can take the port between check and use."""
    held = hold_ports(1)
    try:
        taken = held[0].getsockname()[1]
        sock = bind_first_free("127.0.0.1", taken, 3)
        try:
            assert sock.getsockname()[1] == taken + 1
            client = socket.create_connection(("127.0.0.1", taken + 1), timeout=5)
            client.close()  # it accepts connections: listen() was called
        finally:
            sock.close()
    finally:
        for s in held:
            s.close()


def test_bad_port_arguments_are_refused_by_the_parser(capsys):
    import pytest

    from service.cli import main

    for args in (["--port-search", "-1"], ["--port-search", "many"], ["--port", "70000"]):
        with pytest.raises(SystemExit) as exc:
            main(["serve", *args])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "whole number" in err, err
