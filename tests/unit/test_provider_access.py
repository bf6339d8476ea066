"""Provider access that is safe in production: encrypted URLs or a refusal at load, keys in headers where a
provider takes them and masked everywhere else, and no server able to make a connector wait or allocate
without bound (Retry-After, REST body size, WebSocket frame size, redirects, the gateway's greeting)."""
from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import polygon, websocket_feed
from connectors.backoff import Backoff
from connectors.databento_feed import GatewaySession, gateway_for
from connectors.metrics import ConnectorMetrics
from connectors.provider import ProviderError
from connectors.provider_config import (
    PRODUCTION_FILE,
    ConfigError,
    check_transport,
    load,
    parse_section,
)
from connectors.redaction import redact, register_secret
from connectors.rest import MAX_RETRY_AFTER_S, BodyTooLarge, RestClient, retry_after_s

SECRET = "sk-test-9f8e7d6c5b4a"


# --- configuration ---------------------------------------------------------------------------------------

def test_the_production_file_names_real_encrypted_endpoints_and_holds_no_secret():
    configs = load(PRODUCTION_FILE, env={})
    assert set(configs) == {"polygon", "finnhub", "databento", "alphavantage"}
    urls = {f"{name}.{k}": v for name, cfg in configs.items() for k, v in cfg.options.items() if k.endswith("url")}
    assert urls == {"polygon.ws_url": "wss://socket.polygon.io/stocks", "polygon.rest_url": "https://api.polygon.io",
                    "finnhub.ws_url": "wss://ws.finnhub.io", "finnhub.rest_url": "https://finnhub.io/api/v1",
                    "alphavantage.base_url": "https://www.alphavantage.co/query"}
    assert gateway_for(configs["databento"].options["gateway"], configs["databento"].options["dataset"]) == \
        "glbx-mdp3.lsg.databento.com:13000"
    assert all(cfg.key_env and cfg.rest_quota or name == "databento" for name, cfg in configs.items())
    raw = yaml.safe_load(PRODUCTION_FILE.read_text())["providers"]
    for section in raw.values():
        assert not {"key", "api_key", "apikey", "token", "secret"} & set(section)
        assert section["key_env"].endswith("_API_KEY")
        assert not section.get("allow_insecure", False)


@pytest.mark.parametrize("url", ["ws://feed.example.com/stocks", "http://10.0.0.5:8765", "http://api.polygon.io"])
def test_a_plain_url_to_another_host_is_refused_with_one_line(url):
    with pytest.raises(ConfigError) as refused:
        parse_section("polygon", {"rest_url": url}, "prod.yaml")
    message = str(refused.value)
    assert "\n" not in message and "prod.yaml: providers.polygon.rest_url" in message and "allow_insecure" in message


@pytest.mark.parametrize("url", ["ws://127.0.0.1:8765/stocks", "http://localhost:8766/api/v1", "http://[::1]:1/",
                                 "http://127.8.9.10/q", "wss://socket.polygon.io/stocks", "https://finnhub.io/api/v1"])
def test_encrypted_or_loopback_urls_load(url):
    assert parse_section("finnhub", {"ws_url": url}).options["ws_url"] == url


def test_allow_insecure_is_an_explicit_per_provider_choice():
    cfg = parse_section("finnhub", {"rest_url": "http://proxy.internal/api/v1", "allow_insecure": True})
    assert cfg.allow_insecure and cfg.with_options(x=1).allow_insecure
    check_transport(cfg)
    with pytest.raises(ConfigError, match="true or false"):
        parse_section("finnhub", {"allow_insecure": "yes"})
    with pytest.raises(ConfigError, match="scheme 'ftp'"):
        parse_section("finnhub", {"rest_url": "ftp://127.0.0.1/x", "allow_insecure": True})


def test_the_simulator_file_still_loads():
    assert set(load(env={})) == {"polygon", "finnhub", "databento", "alphavantage"}


# --- keys: headers where possible, masked everywhere ------------------------------------------------------

def test_key_parameters_headers_and_registered_keys_are_masked():
    register_secret(SECRET)
    text = (f"GET https://api.polygon.io/v3/trades/ES?apiKey={SECRET}&limit=5 token={SECRET} apikey=abc123 "
            f"{{'Authorization': 'Bearer {SECRET}'}} X-Finnhub-Token: tok987 frame echoing {SECRET}!")
    masked = redact(text)
    assert SECRET not in masked and "abc123" not in masked and "tok987" not in masked
    assert "apiKey=***&limit=5" in masked and "'Authorization': 'Bearer ***'" in masked


def test_every_log_line_and_traceback_is_masked_once_a_key_is_registered(caplog):
    register_secret(SECRET)
    log = logging.getLogger("tickflow.connectors.test")
    with caplog.at_level(logging.INFO):
        log.info("connecting to wss://x/?token=%s", SECRET)
        try:
            raise ProviderError(f"refused {SECRET}")
        except ProviderError:
            log.exception("provider failed")
    assert caplog.records and SECRET not in caplog.text
    assert "token=***" in caplog.text and "refused ***" in caplog.text


def test_rest_keys_go_in_headers_and_never_in_the_url():
    from connectors.finnhub import FinnhubProvider
    from connectors.provider_config import ProviderConfig

    p = polygon.PolygonProvider(ProviderConfig("polygon"), ConnectorMetrics(), SECRET)
    f = FinnhubProvider(ProviderConfig("finnhub"), ConnectorMetrics(), SECRET)
    assert p.rest.headers == {"Authorization": f"Bearer {SECRET}"}
    assert f.rest.headers == {"X-Finnhub-Token": SECRET}


def test_a_next_page_on_another_host_is_refused():
    base = "https://api.polygon.io"
    assert polygon.next_page(f"{base}/v3/trades/ES?cursor=abc", base) == f"{base}/v3/trades/ES?cursor=abc"
    assert polygon.next_page(None, base) is None and polygon.next_page("", base) is None
    for bad in ("https://evil.example/v3/trades/ES", "http://api.polygon.io/v3/trades/ES", "/v3/trades/ES",
                "https://api.polygon.io:444/x", 5, ["x"]):
        with pytest.raises(ProviderError):
            polygon.next_page(bad, base)


# --- Retry-After ------------------------------------------------------------------------------------------

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("header,pause", [
    ("5", 5.0), (" 0.5 ", 0.5), ("0", 0.0), ("999999999", MAX_RETRY_AFTER_S), ("inf", None), ("nan", None),
    ("Infinity", None), ("1e9", None), ("-1", None), ("", None), (None, None), ("soon", None), ("9" * 80, None),
    (format_datetime(NOW + timedelta(seconds=42), usegmt=True), 42.0),
    (format_datetime(NOW - timedelta(days=1), usegmt=True), 0.0),
    (format_datetime(NOW + timedelta(days=1), usegmt=True), MAX_RETRY_AFTER_S),
])
def test_retry_after_is_a_bounded_delay_or_the_backoff(header, pause):
    assert retry_after_s(header, NOW) == pause


@settings(max_examples=500, derandomize=True, database=None, deadline=timedelta(seconds=1))
@given(st.one_of(st.text(max_size=80), st.from_regex(r"-?[0-9.eE+]{1,20}", fullmatch=True),
                 st.datetimes().map(lambda d: format_datetime(d.replace(tzinfo=UTC), usegmt=True))))
def test_any_retry_after_is_none_or_a_finite_pause_within_the_cap(header):
    pause = retry_after_s(header, NOW)
    assert pause is None or (math.isfinite(pause) and 0 <= pause <= MAX_RETRY_AFTER_S)


# --- a live loopback server -------------------------------------------------------------------------------

class Server:
    """An aiohttp app on loopback for one test; ``seen`` records each request's path, query and headers."""

    def __init__(self, routes) -> None:
        self.app = web.Application()
        routes(self.app.router, self)
        self.seen: list[tuple[str, dict, dict]] = []
        self.url = ""

    async def __aenter__(self) -> Server:
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()


def run(coro, timeout: float = 20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_a_body_past_the_cap_ends_the_request_without_retries():
    async def scenario():
        def routes(r, s):
            async def big(request):
                s.seen.append((request.path, dict(request.query), dict(request.headers)))
                resp = web.StreamResponse()  # chunked: no Content-Length to refuse up front
                await resp.prepare(request)
                for _ in range(64):
                    await resp.write(b"x" * 4096)
                return resp

            async def declared(request):
                s.seen.append((request.path, dict(request.query), dict(request.headers)))
                return web.Response(body=b"y" * 300_000)
            r.add_get("/big", big)
            r.add_get("/declared", declared)

        metrics = ConnectorMetrics()
        async with Server(routes) as srv:
            client = RestClient("polygon", metrics, max_body_bytes=100_000, headers={"Authorization": "Bearer k"})
            try:
                for path in ("/big", "/declared"):
                    with pytest.raises(BodyTooLarge):
                        await client.get(srv.url + path)
            finally:
                await client.close()
        assert [p for p, _, _ in srv.seen] == ["/big", "/declared"]  # one request each: not retried
        assert srv.seen[0][2]["Authorization"] == "Bearer k"
        assert metrics.value("tickflow_connector_errors_total", provider="polygon", kind="body_too_large") == 2
    run(scenario())


def test_an_unbounded_retry_after_falls_back_to_the_backoff():
    async def scenario():
        def routes(r, s):
            async def limited(request):
                s.seen.append((request.path, {}, {}))
                if len(s.seen) < 3:
                    return web.Response(status=429, headers={"Retry-After": "inf"})
                return web.Response(body=b"{}")
            r.add_get("/q", limited)

        metrics = ConnectorMetrics()
        async with Server(routes) as srv:
            client = RestClient("finnhub", metrics, backoff=Backoff(base=0.01, cap=0.05))
            try:
                assert await client.get(srv.url + "/q") == b"{}"
            finally:
                await client.close()
        assert len(srv.seen) == 3
        assert metrics.value("tickflow_connector_rate_limit_wait_seconds_total", provider="finnhub") <= 0.1
    run(scenario())


def test_a_redirect_is_not_followed_so_a_header_key_stays_with_its_host():
    async def scenario():
        def other_routes(r, s):
            async def steal(request):
                s.seen.append((request.path, {}, dict(request.headers)))
                return web.Response(body=b"{}")
            r.add_get("/steal", steal)

        async with Server(other_routes) as other:
            def routes(r, s):
                async def moved(request):
                    raise web.HTTPFound(other.url + "/steal")
                r.add_get("/v3/trades/ES", moved)

            async with Server(routes) as srv:
                client = RestClient("polygon", ConnectorMetrics(), headers={"Authorization": f"Bearer {SECRET}"})
                try:
                    with pytest.raises(ProviderError, match="HTTP 302"):
                        await client.get(srv.url + "/v3/trades/ES")
                finally:
                    await client.close()
        assert other.seen == []
    run(scenario())


def test_a_frame_past_the_limit_is_a_provider_error_and_counted():
    async def scenario():
        def routes(r, s):
            async def feed(request):
                ws = web.WebSocketResponse()
                await ws.prepare(request)
                await ws.send_str("x" * 1000)
                await ws.send_str("y" * 5000)
                await ws.receive()
                return ws
            r.add_get("/ws", feed)

        metrics = ConnectorMetrics()
        async with Server(routes) as srv:
            async with aiohttp.ClientSession() as http:
                ws = await websocket_feed.connect(http, "polygon", srv.url.replace("http", "ws") + "/ws", 5.0,
                                                  max_frame_bytes=4096)
                got = []
                with pytest.raises(websocket_feed.FrameTooLarge, match="exceeds limit 4096"):
                    async for frame in websocket_feed.frames(ws, "polygon", 10.0, metrics):
                        got.append(frame)
                await ws.close()
        assert got == ["x" * 1000]
        assert metrics.value("tickflow_connector_errors_total", provider="polygon", kind="frame_too_large") == 1
    run(scenario())


def test_a_gateway_that_never_sends_its_challenge_is_dropped_after_a_few_lines():
    async def scenario():
        async def chatty(reader, writer):
            for i in range(1000):
                writer.write(f"lsg_version=0.{i}\n".encode())
            await writer.drain()
            await reader.read()

        server = await asyncio.start_server(chatty, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        session = GatewaySession("127.0.0.1", port, "db-key-00000", "GLBX.MDP3", None, 5.0, connect_timeout_s=5.0)
        try:
            with pytest.raises(ProviderError, match="no cram challenge"):
                await session.open([])
        finally:
            await session.close()
            server.close()
    run(scenario())


def test_log_once_remembers_a_bounded_number_of_keys(caplog):
    once = websocket_feed.LogOnce(logging.getLogger("tickflow.test"), max_keys=3)
    with caplog.at_level(logging.WARNING):
        for i in range(10):
            once(f"k{i}", "kind %s", i)
            once(f"k{i}", "kind %s", i)
    assert len(once.seen) == 3 and len(caplog.records) == 3


def test_the_files_used_here_exist():
    assert Path(PRODUCTION_FILE).is_file()


def test_a_provider_error_masks_what_a_server_echoed():
    register_secret(SECRET)
    assert str(ProviderError(f"polygon: unexpected auth reply: [{{'key': '{SECRET}'}}]")) == \
        "polygon: unexpected auth reply: [{'key': '***'}]"
    from connectors.provider import AuthError
    assert SECRET not in str(AuthError(f"https://x/?apiKey={SECRET}"))
