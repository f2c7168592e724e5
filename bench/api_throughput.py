"""P4, API throughput: incident creation through the API under gunicorn, 16 concurrent clients, against the
baseline view."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import subprocess  # nosec B404 - starts gunicorn from the venv, fixed arguments
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CLIENTS = 16
API_PATH = "/api/v1/incidents/"
BASELINE_PATH = "/bench/baseline/incidents/"


@dataclass
class Burst:
    """One timed burst: how many requests got a 2xx, how many did not, and how long it took."""

    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def body(*, source: str, number: int) -> bytes:
    return json.dumps(
        {
            "kind": "near_miss",
            "title": f"Queue backlog grew on checkout-api ({number})",
            "summary": "The consumer lagged behind after a deploy.",
            "severity": "sev3",
            "team": "payments",
            "environment": "staging",
            "caught_by": "monitoring_alert",
            "started_at": dt.datetime.now(dt.UTC).isoformat(),
            "source": source,
        }
    ).encode()


def burst(*, port: int, path: str, source: str, token: str, seconds: float) -> Burst:
    """CLIENTS threads, each on its own keep-alive connection, posting until `seconds` have passed."""
    result, lock = Burst(), threading.Lock()
    deadline = time.perf_counter() + seconds
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        ok = errors = sent = 0
        samples = []
        while time.perf_counter() < deadline:
            sent += 1
            try:
                connection.request("POST", path, body(source=source, number=index * 10**6 + sent), headers)
                response = connection.getresponse()
                payload = response.read()
                if 200 <= response.status < 300:
                    ok += 1
                else:
                    errors += 1
                    samples.append(f"{response.status} {payload[:200]!r}")
            except (OSError, http.client.HTTPException) as error:
                errors += 1
                samples.append(repr(error))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.close()
        with lock:
            result.ok += ok
            result.errors += errors
            result.error_samples += samples[:3]

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began
    return result


def start_server(*, port: int, log: Path) -> subprocess.Popen:
    """gunicorn from the venv, with bench.settings (the only settings that route to the baseline view)."""
    environ = dict(os.environ, DJANGO_SETTINGS_MODULE="bench.settings")
    command = [
        str(Path(sys.executable).with_name("gunicorn")), "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "3", "--worker-class", "gthread", "--threads", "4",
        "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, env=environ, stdout=log.open("wb"), stderr=subprocess.STDOUT)  # noqa: S603  # nosec B603
    for _ in range(100):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/accounts/login/")
            connection.getresponse().read()
            connection.close()
            return server
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {server.returncode}; see {log}") from None
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError(f"gunicorn did not answer on port {port}; see {log}")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
