"""Builds the transport's services from a service's config.json (used by each main.py)."""

from collections.abc import Sequence
from typing import Any, Union

from peek_platform.config import ACCEPTING_SERVICES, ServiceConfig
from peek_platform.events.sources import emit_connection
from peek_platform.tls import CA_KEY, CLIENT_TLS_KEY, client_tls_options, resolve_path
from peek_platform.vortex.platform_token import ensure_server_token, find_service_token
from peek_plugin_base import PeekVortexUtil
from peek_vortex.routing import default_router
from peek_vortex.transport import (
    AccessPolicy,
    Backoff,
    TransportLimits,
    VortexBridge,
    VortexClientService,
    VortexHubService,
    VortexServer,
    answer_heartbeats,
)
from peek_vortex.wire import VortexCodec

#: The path of the bus websocket on every site that offers one.
VORTEX_PATH = b"vortexws"


def limits_from_config(config: ServiceConfig) -> TransportLimits:
    """The ``vortex.*`` settings as TransportLimits."""
    return TransportLimits(
        max_frame_bytes=config["vortex.maxFrameBytes"],
        max_queued_bytes=config["vortex.maxQueuedBytes"],
        max_decompressed_bytes=config["vortex.maxDecompressedBytes"],
        heartbeat_seconds=config["vortex.heartbeatSeconds"],
        heartbeat_timeout_seconds=config["vortex.heartbeatTimeoutSeconds"],
        hello_timeout_seconds=config["vortex.helloTimeoutSeconds"],
        slow_consumer_seconds=config["vortex.slowConsumerSeconds"],
        **_throttle_limits(config),
    )


def _throttle_limits(config: ServiceConfig) -> dict[str, Any]:
    """The wrong-token throttle's settings; only services that accept connections have them."""
    if config.service not in ACCEPTING_SERVICES:
        return {}
    return {
        "wrong_token_attempts": config["vortex.wrongTokenAttempts"],
        "wrong_token_block_seconds": config["vortex.wrongTokenBlockSeconds"],
        "wrong_token_max_block_seconds": config["vortex.wrongTokenMaxBlockSeconds"],
    }


def server_hub_service(config: ServiceConfig) -> VortexHubService:
    """The server's bus hub (service name ``vortex``); creates the platform token at start.

    Mount ``service.server.resource()`` at ``VORTEX_PATH`` on the platform site.
    """
    token: list[str] = []
    endpoint = VortexServer(
        PeekVortexUtil.peekServerName,
        AccessPolicy.for_server(lambda: token[0] if token else None),
        limits_from_config(config),
    )
    return VortexHubService(
        "vortex", endpoint, prepare=lambda: token.append(ensure_server_token(config.home)))


def device_hub_service(config: ServiceConfig) -> VortexHubService:
    """A client service's device hub (service name ``vortex-devices``).

    Mount ``service.server.resource()`` at ``VORTEX_PATH`` on the mobile and desktop sites.
    """
    endpoint = VortexServer(
        PeekVortexUtil.peekClientName,
        AccessPolicy.for_devices(config["vortex.deviceToken"]),
        limits_from_config(config),
    )
    return VortexHubService("vortex-devices", endpoint)


def upstream_service(config: ServiceConfig, vortex_name: str) -> VortexClientService:
    """The connection of a client, agent or worker to the server (service name ``vortex``).

    Add it to the tree before the plugin host: its start waits for the first connection.
    With ``peekServer.tls`` it connects with ``wss://`` and verifies the server's certificate
    and host name against ``peekServer.caFile`` (or the system's trusted CAs).
    """
    host = config["peekServer.host"]
    tls_options: Any = None
    tls_label = "the system's trusted CAs"
    if config[CLIENT_TLS_KEY]:
        ca_value: str = config[CA_KEY]
        ca_path = resolve_path(config.home, ca_value) if ca_value else None
        tls_options = client_tls_options(host, ca_path)
        if ca_path is not None:
            tls_label = f"the CA in {CA_KEY} ({ca_path})"
    scheme = "wss" if tls_options is not None else "ws"
    # An IPv6 literal needs brackets in a URL.
    netloc = f"[{host}]" if ":" in host else host
    url = f"{scheme}://{netloc}:{config['peekServer.httpPort']}/vortexws"
    return VortexClientService(
        "vortex",
        url,
        vortex_name,
        token=lambda: find_service_token(config),
        limits=limits_from_config(config),
        backoff=Backoff(
            initial=min(config["peekServer.reconnectInitialSeconds"],
                        config["peekServer.reconnectMaxSeconds"]),
            maximum=config["peekServer.reconnectMaxSeconds"],
        ),
        tls=tls_options,
        tls_label=tls_label,
    )


def attach_bus(
    config: ServiceConfig,
    local_name: str,
    transports: list[Union[VortexClientService, VortexHubService]],
    device_hubs: Sequence[VortexHubService] = (),
) -> VortexBridge:
    """Join the process-wide router (the one plugins' handlers use) to ``transports``
    (service connections) and ``device_hubs`` (a client service's device websocket).

    Also configures that router: its codec's limit from ``vortex.maxDecompressedBytes``
    and its observables' cap from ``vortex.maxSubscriptionsPerConnection``.
    """
    router = default_router()
    router.codec = VortexCodec(max_inflated_bytes=config["vortex.maxDecompressedBytes"])
    router.max_subscriptions_per_connection = config["vortex.maxSubscriptionsPerConnection"]
    bridge = VortexBridge(router, local_name, on_connection=emit_connection)
    for transport in transports:
        if isinstance(transport, VortexHubService):
            transport.server.handler = bridge
        else:
            transport.handler = bridge
    for hub in device_hubs:
        hub.server.handler = bridge.device_handler
    if device_hubs:
        answer_heartbeats(bridge.router)
    return bridge
