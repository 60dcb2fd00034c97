"""Test-wide isolation, in the spirit of nilearn's fixtures.

Every test runs with HOME and the Hugging Face / torch caches redirected into a temporary
folder and with network access refused, so no test can touch a user's data or reach out.
"""

from __future__ import annotations

import socket

import pytest


class NetworkBlockedError(RuntimeError):
    pass


_LOCAL = ("127.", "::1", "localhost", "0.0.0.0")


def _guarded_connect(original):
    def connect(self, address, *args, **kwargs):
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family == socket.AF_UNIX or str(host).startswith(_LOCAL):
            return original(self, address, *args, **kwargs)
        raise NetworkBlockedError(f"tests may not open network connections (tried {address!r})")

    return connect


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("HF_HOME", str(home / ".cache" / "huggingface"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(home / ".cache" / "torch"))
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect(socket.socket.connect))
    yield
