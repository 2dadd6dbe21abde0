"""Airflow's REST API from tests, with nothing but the standard library."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def call(url: str, method: str = "GET", body: dict | None = None, token: str | None = None):
    """(HTTP status, JSON answer); (0, None) while nothing listens there yet."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, None
    except (urllib.error.URLError, OSError):  # not listening (yet)
        return 0, None
