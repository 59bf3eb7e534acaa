"""Network faults through the Toxiproxy API.

Point the system at a proxy instead of at a service, and network faults in a plan act on
its live TCP connections::

    from faults import network

    proxy = network.proxy("search", upstream="127.0.0.1:8081")   # listens on proxy.listen
    SEARCH_URL = f"http://{proxy.listen}"

    # a plan with Fault(site="network", target="search", call="every", effect=Latency(seconds=2))
    # adds a latency toxic to "search" when the run starts and removes it when the run ends.

With ``TOXIPROXY_URL`` set (e.g. ``http://127.0.0.1:8474``) the proxies live in that
Toxiproxy server; otherwise an embedded Toxiproxy-compatible server starts on 127.0.0.1
the first time it is needed. Either way they are managed with toxiproxy-python.

The API traffic goes over ``requests``; brownout's cassettes intercept only the httpx
transports an LLM client uses, so it is never recorded. If you also use vcrpy yourself,
add :func:`api_host` to its ``ignore_hosts``.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from faults._errors import NetworkFaultError

if TYPE_CHECKING:
    from faults._models import Fault

__all__ = [
    "api_host",
    "api_url",
    "arm",
    "client",
    "disarm",
    "proxy",
    "registered_proxies",
    "reset",
    "shutdown",
    "toxic_for",
]

_LOCK = threading.RLock()
_EMBEDDED: Any = None
_CLIENT: Any = None
_URL: str | None = None
_PROXIES: dict[str, Any] = {}


def api_url() -> str:
    """The Toxiproxy API in use: ``$TOXIPROXY_URL``, or the embedded server (started on demand)."""
    global _EMBEDDED, _URL
    with _LOCK:
        wanted = os.environ.get("TOXIPROXY_URL", "").strip()
        if wanted:
            parts = urlsplit(wanted if "://" in wanted else f"http://{wanted}")
            if not parts.hostname or not parts.port:
                raise NetworkFaultError(
                    f"TOXIPROXY_URL={wanted!r}: expected http://HOST:PORT of a Toxiproxy server's API, "
                    "e.g. http://127.0.0.1:8474. Unset it to use the embedded server."
                )
            url = f"http://{parts.hostname}:{parts.port}"
        else:
            if _EMBEDDED is None:
                from faults._toxiproxy import EmbeddedToxiproxy

                _EMBEDDED = EmbeddedToxiproxy().start()
            url = _EMBEDDED.url
        if url != _URL:
            _URL = url
            _PROXIES.clear()
        return url


def api_host() -> str:
    """The host of the Toxiproxy API (for vcrpy's ``ignore_hosts``)."""
    return urlsplit(api_url()).hostname or "127.0.0.1"


def client() -> Any:
    """A ``toxiproxy.Toxiproxy`` client pointed at :func:`api_url`."""
    global _CLIENT
    url = api_url()
    parts = urlsplit(url)
    with _LOCK:
        from toxiproxy import Toxiproxy

        if _CLIENT is None:
            _CLIENT = Toxiproxy()
        _CLIENT.update_api_consumer(parts.hostname, parts.port)
        return _CLIENT


def proxy(name: str, upstream: str, *, listen: str = "127.0.0.1:0") -> Any:
    """Create (or reuse) the proxy ``name`` forwarding to ``upstream`` and return it.

    Args:
        name: The proxy's name; fault plans select it as ``network[<name>]``.
        upstream: ``HOST:PORT`` of the real service.
        listen: Where the proxy listens (``127.0.0.1:0``: a free port; read ``.listen``).

    Returns:
        A ``toxiproxy.Proxy`` (``.listen`` is the ``HOST:PORT`` to connect to).
    """
    if not isinstance(name, str) or not name:
        raise NetworkFaultError(f"proxy(name={name!r}): the name must be a non-empty string.")
    host, _, port = str(upstream).rpartition(":")
    if not host or not port.isdigit():
        raise NetworkFaultError(f"proxy(upstream={upstream!r}): expected HOST:PORT, e.g. '127.0.0.1:8080'.")
    toxiproxy = client()
    with _LOCK:
        try:
            existing = toxiproxy.get_proxy(name)
            if existing is not None and existing.upstream != upstream:
                existing.destroy()
                existing = None
            created = (
                existing
                if existing is not None
                else toxiproxy.create(upstream=upstream, name=name, listen=listen)
            )
            if not created.enabled:
                created.enable()
        except Exception as exc:
            raise NetworkFaultError(
                f"proxy {name!r} -> {upstream}: the Toxiproxy API at {api_url()} failed: {exc!r}."
            ) from exc
        _PROXIES[name] = created
        return created


def registered_proxies() -> list[str]:
    """Names of the proxies created through :func:`proxy` (network fault sites), in order."""
    with _LOCK:
        return list(_PROXIES)


# Toxiproxy attributes for each network effect.
def toxic_for(fault: Fault, index: int = 0) -> dict[str, Any] | None:
    """The Toxiproxy toxic (name, type, stream, toxicity, attributes) for a network fault.

    Returns ``None`` for :class:`~faults.Down`, which disables the proxy instead.
    """
    effect = fault.effect
    if "network" not in effect.sites:
        raise NetworkFaultError(f"{fault}: effect {effect.kind!r} is not a network effect.")
    toxic = effect.toxic()
    if toxic is None:
        return None
    kind, attributes = toxic
    stream = getattr(effect, "stream", "downstream")
    return {
        "name": f"brownout_{index}_{kind}_{stream}",
        "type": kind,
        "stream": stream,
        "toxicity": float(getattr(effect, "toxicity", 1.0)),
        "attributes": attributes,
    }


def arm(fault: Fault) -> list[tuple[str, str, str]]:
    """Apply a network fault to its proxy (or every registered proxy); return handles for :func:`disarm`."""
    with _LOCK:
        names = [fault.target] if fault.target else list(_PROXIES)
        handles: list[tuple[str, str, str]] = []
        for index, name in enumerate(names):
            target = _PROXIES.get(name) if name else None
            if target is None:
                known = ", ".join(_PROXIES) or "none"
                raise NetworkFaultError(
                    f"{fault}: no proxy named {name!r} (registered: {known}). Create it first with "
                    f"faults.network.proxy({name!r}, upstream='HOST:PORT') and point the system at "
                    "its .listen address."
                )
            toxic = toxic_for(fault, index)
            try:
                if toxic is None:
                    target.disable()
                    handles.append((name, "down", ""))
                else:
                    toxic["name"] = f"{toxic['name']}_{len(handles)}"
                    target.add_toxic(**toxic)
                    handles.append((name, "toxic", toxic["name"]))
            except Exception as exc:
                disarm(handles)
                raise NetworkFaultError(
                    f"{fault}: the Toxiproxy API at {api_url()} failed: {exc!r}."
                ) from exc
        return handles


def disarm(handles: list[tuple[str, str, str]]) -> None:
    """Undo :func:`arm`: remove the toxics it added, bring disabled proxies back up."""
    with _LOCK:
        for name, what, toxic_name in reversed(handles):
            target = _PROXIES.get(name)
            if target is None:
                continue
            try:
                if what == "down":
                    target.enable()
                else:
                    target.destroy_toxic(toxic_name)
            except Exception:  # a proxy deleted meanwhile: nothing left to undo
                continue


def reset() -> None:
    """Remove every toxic and re-enable every proxy on the server (Toxiproxy's ``POST /reset``)."""
    client().reset()


def shutdown() -> None:
    """Forget the registered proxies and stop the embedded server, if one was started."""
    global _EMBEDDED, _URL
    with _LOCK:
        if _EMBEDDED is not None and not os.environ.get("TOXIPROXY_URL"):
            _EMBEDDED.stop()
            _EMBEDDED = None
        elif _URL is not None:
            toxiproxy = client()
            for name in list(_PROXIES):
                existing = toxiproxy.get_proxy(name)
                if existing is not None:
                    existing.destroy()
        _PROXIES.clear()
        _URL = None
