"""Several `avatarforge serve` replicas behind one client address: the forms the address takes,
and the load-balancing policy every channel uses.

    "avatars.lan:50051"                     one name; gRPC resolves it (its dns resolver)
    "127.0.0.1:5001,127.0.0.1:5002"         a list of IP literals -> the target "ipv4:127.0.0.1:5001,127.0.0.1:5002"
    "[fd00::5]:50051,[fd00::6]:50051"       -> "ipv6:[fd00::5]:50051,[fd00::6]:50051"
    "ipv4:10.0.0.5:50051,10.0.0.6:50051"    a gRPC target, used as given
    "dns:///avatars.lan:50051"              one name whose DNS answer lists every replica (re-resolved by gRPC)

Why `round_robin`: gRPC's default, `pick_first`, sends every call to the first address that
answers, so the other replicas would idle. `round_robin` keeps a connection (subchannel) to each
address and puts each new call on the next ready one. A call never moves once started: a unary
call is one request on one subchannel, and a stream (GenerateBatch, EditSession) stays on the
subchannel it opened on until it ends, so an edit session's server-side state is on one replica
for the session's whole life. A replica that stops answering leaves the rotation until it
reconnects.

A list of host names is refused rather than resolved here once: gRPC's resolvers take one name
or a list of IP literals, and a name resolved once would never follow the replicas' moves. With
TLS, replicas are reached by one DNS name their certificates share; a list of IP addresses has
no name to check them against.
"""
from __future__ import annotations

import ipaddress
import json

# A default service config: the resolver (e.g. DNS TXT records) may not supply one.
ROUND_ROBIN = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})
GRPC_SCHEMES = ("dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:", "vsock:", "xds:")
LOOPBACK_NAMES = ("localhost",)
# gRPC checks a certificate against the channel's one authority, and a list of addresses has
# none that each replica's certificate could carry.
LIST_WITH_TLS = ("TLS needs one server name for every replica: put one DNS name in the replicas' certificates and "
                 "connect to dns:///NAME:PORT (a name that resolves to all of them), not to a list of addresses")


def channel_target(address: str) -> str:
    """The gRPC target for `address`: a comma list of HOST:PORT IP literals becomes an ipv4: or
    ipv6: target; anything else is used as given. Raises ValueError for a list with a host name
    or with both IPv4 and IPv6 (gRPC has no resolver that takes such a list)."""
    address = address.strip()
    if "," not in address or address.startswith(GRPC_SCHEMES):
        return address
    parts = [p.strip() for p in address.split(",") if p.strip()]
    families = set()
    for part in parts:
        try:
            families.add(ipaddress.ip_address(_host(part)).version)
        except ValueError:
            raise ValueError(f"{part!r} in {address!r}: a list of replicas takes IP addresses (127.0.0.1:5001,"
                             "127.0.0.1:5002); for names, give one DNS name that resolves to every replica "
                             "(dns:///avatars.lan:50051)") from None
    if len(families) > 1:
        raise ValueError(f"{address!r} mixes IPv4 and IPv6 addresses: gRPC takes a list of one family")
    return f"ipv{families.pop()}:{','.join(parts)}"


def target_hosts(address: str) -> list[str]:
    """The hosts an address reaches (for a warning before a key goes out without TLS)."""
    address = address.strip()
    if address.startswith(("unix:", "unix-abstract:")):
        return ["localhost"]
    for scheme in ("ipv4:", "ipv6:"):
        address = address.removeprefix(scheme)
    if address.startswith("dns:"):
        address = address.removeprefix("dns:").lstrip("/")
        address = address.split("/", 1)[-1] if "/" in address else address  # dns://authority/name:port
    return [_host(p.strip()) for p in address.split(",") if p.strip()]


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host(hostport: str) -> str:
    """"10.0.0.5:50051" -> "10.0.0.5", "[::1]:50051" -> "::1", "avatars.lan" -> itself."""
    if hostport.startswith("["):
        return hostport[1:].partition("]")[0]
    return hostport.rpartition(":")[0] if hostport.count(":") == 1 else hostport
