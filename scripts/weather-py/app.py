"""weather, in Python (componentize-py): a bot that asks a web API, through
the gateway's outbound HTTP (`wasi:http/outgoing-handler`, `fetch.py`).

Command (the whole message, spaces around it ignored):
  天气 <city> / weather <city>   GETs the configured API for <city> and
                                 answers with one sentence built from its JSON
Everything else passes (None).

Config:
  api         the API's URL: `{city}` in it is replaced by the city,
              URL-encoded, else the city is appended (so
              "http://127.0.0.1:8080/weather?city=" works)
  timeout_ms  how long one request may take (default 5000; the gateway's
              `http_timeout_ms` still applies)
The gateway must grant the API's origin: `http = ["http://127.0.0.1:8080"]`.

The API answers JSON: {"weather": "晴", "temp": 25} and optionally "city",
"humidity" (percent) and "wind" (text). A failure is answered with an
apology naming its kind: `抱歉，查不到北京的天气：没有访问权限
(HTTP-request-denied)`.
"""
import json
from typing import List, Optional, Tuple
from urllib.parse import quote, urlsplit

import fetch
from componentize_py_types import Err
from wit_world import WitWorld
from wit_world.imports import host
from wit_world.imports.openqq_bot_types import Decision, Event, Message

DEFAULT_TIMEOUT_MS = 5000
# A weather answer is a few hundred bytes; more is not one.
MAX_ANSWER_BYTES = 64 << 10
# Longer is not a city name, and would only make a long URL.
MAX_CITY_CHARS = 32

# What each error kind means to the person who asked (others: 出错).
TIMEOUT = "超时"
UNREACHABLE = "连不上天气服务"
REASONS = {
    "HTTP-request-denied": "没有访问权限",
    "DNS-timeout": TIMEOUT,
    "connection-timeout": TIMEOUT,
    "connection-read-timeout": TIMEOUT,
    "connection-write-timeout": TIMEOUT,
    "HTTP-response-timeout": TIMEOUT,
    "DNS-error": UNREACHABLE,
    "destination-not-found": UNREACHABLE,
    "destination-unavailable": UNREACHABLE,
    "connection-refused": UNREACHABLE,
    "HTTP-response-body-size": "回答太长",
}


class State:
    # componentize-py makes a new WitWorld object for every call, so the
    # configuration lives at module level (one instance = one module).
    api = ""
    timeout_ms = DEFAULT_TIMEOUT_MS


class Unanswered(Exception):
    """No weather: `reason` says why, in the asker's words and the kind's."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def city_of(text: str) -> Optional[str]:
    """The city asked about, or None when the message is not the command (a
    space, half- or full-width, must follow the word: `天气预报` is not one)."""
    words = text.split(None, 1)
    if len(words) != 2 or words[0].lower() not in ("天气", "weather"):
        return None
    city = words[1].strip()
    return city if len(city) <= MAX_CITY_CHARS else None


def url_for(city: str) -> str:
    encoded = quote(city, safe="")
    if "{city}" in State.api:
        return State.api.replace("{city}", encoded)
    return State.api + encoded


def ask(city: str) -> dict:
    """The API's JSON object for `city`, or raises `Unanswered`."""
    url = url_for(city)
    try:
        status, body = fetch.get(url, State.timeout_ms, MAX_ANSWER_BYTES)
    except fetch.Failed as e:
        host.log(host.Level.WARN, f"weather: GET {url}: {e.kind}")
        raise Unanswered(f"{REASONS.get(e.kind, '出错')} ({e.kind})") from None
    if status != 200:
        host.log(host.Level.WARN, f"weather: GET {url}: HTTP {status}")
        raise Unanswered(f"天气服务出错 (HTTP {status})")
    try:
        data = json.loads(body)
    except ValueError:  # bad UTF-8 or bad JSON
        data = None
    if not isinstance(data, dict):
        host.log(host.Level.WARN, f"weather: GET {url}: not a JSON object")
        raise Unanswered("回答看不懂 (not a JSON object)")
    return data


def sentence(city: str, data: dict) -> str:
    """`北京现在晴，气温 25°C，湿度 40%，东北风 2 级。` from the API's JSON."""
    weather, temp = data.get("weather"), data.get("temp")
    if not isinstance(weather, str) or isinstance(temp, bool) or not isinstance(temp, (int, float)):
        raise Unanswered("回答看不懂 (no weather or temp)")
    name = data.get("city") if isinstance(data.get("city"), str) else city
    parts = [f"{name}现在{weather}", f"气温 {temp:g}°C"]
    humidity = data.get("humidity")
    if isinstance(humidity, (int, float)) and not isinstance(humidity, bool):
        parts.append(f"湿度 {humidity:g}%")
    if isinstance(data.get("wind"), str) and data["wind"]:
        parts.append(data["wind"])
    return "，".join(parts) + "。"


class WitWorld(WitWorld):
    def init(self, config: List[Tuple[str, str]]) -> None:
        settings = dict(config)
        api = settings.get("api", "")
        parts = urlsplit(api)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Err(f"weather: `api` must be an http(s) URL, got {api!r}")
        timeout = settings.get("timeout_ms", str(DEFAULT_TIMEOUT_MS))
        if not (timeout.isascii() and timeout.isdigit()) or int(timeout) == 0:
            raise Err(f"weather: `timeout_ms` must be a positive whole number, got {timeout!r}")
        State.api, State.timeout_ms = api, int(timeout)
        host.log(host.Level.INFO, f"weather (python): asking {parts.scheme}://{parts.netloc}")

    def on_message(self, msg: Message) -> Optional[Decision]:
        city = city_of(msg.content)
        if city is None:
            return None
        try:
            reply = sentence(city, ask(city))
        except Unanswered as e:
            reply = f"抱歉，查不到{city}的天气：{e.reason}"
        return Decision(reply=reply, shutup=None)

    def on_event(self, event: Event) -> None:
        return None

    def on_timer(self, name: str, payload: str) -> None:
        return None
