"""Connecting to a JSON-RPC endpoint and turning transport failures into ChainUnavailable."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from web3 import Web3
from web3.exceptions import ProviderConnectionError, RequestTimedOut
from web3.middleware import ExtraDataToPOAMiddleware

from notary.chain.errors import ChainUnavailable

# Yellow-paper limit; PoA/QBFT/IBFT headers carry validators and seals in extraData
# and exceed it, which web3's block formatter otherwise rejects.
MAX_STANDARD_EXTRA_DATA = 32
_POA_MIDDLEWARE_NAME = "extradata_to_poa"


@contextmanager
def unavailable_on_transport_error(what: str) -> Iterator[None]:
    """Map "could not talk to the node" failures (not node answers) to ChainUnavailable."""
    try:
        yield
    except (ProviderConnectionError, RequestTimedOut, OSError) as exc:
        # requests' ConnectionError/Timeout are OSErrors too.
        raise ChainUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc


def ensure_poa_compat(w3: Web3) -> bool:
    """Inject ExtraDataToPOAMiddleware when the chain's headers need it; True if injected.

    Decided from the raw genesis and latest headers, before any web3 formatting.
    """
    if _POA_MIDDLEWARE_NAME in w3.middleware_onion:
        return True
    with unavailable_on_transport_error("reading block headers"):
        for tag in ("earliest", "latest"):
            resp = w3.provider.make_request("eth_getBlockByNumber", [tag, False])  # type: ignore[arg-type]
            block = resp.get("result") or {}
            extra = block.get("extraData") or "0x"
            if (len(extra) - 2) // 2 > MAX_STANDARD_EXTRA_DATA:
                w3.middleware_onion.inject(
                    ExtraDataToPOAMiddleware, name=_POA_MIDDLEWARE_NAME, layer=0
                )
                return True
    return False


def connect(
    url: str,
    *,
    request_timeout: float = 10.0,
    retries: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Web3:
    """A Web3 over HTTP JSON-RPC (anvil, Besu, Quorum...), PoA-compatible when needed.

    ``retries=False`` turns off web3's own retry-with-backoff, so that an outage
    surfaces at once as ChainUnavailable and the anchoring outbox decides when to retry.
    """
    request: dict[str, Any] = {"timeout": request_timeout}
    if headers:
        request["headers"] = dict(headers)
    provider = Web3.HTTPProvider(url, request_kwargs=request)
    if not retries:
        provider.exception_retry_configuration = None  # type: ignore[assignment]
    w3 = Web3(provider)
    with unavailable_on_transport_error(f"connecting to {url}"):
        w3.eth.chain_id  # noqa: B018  (fail here, not at first use)
    ensure_poa_compat(w3)
    return w3
