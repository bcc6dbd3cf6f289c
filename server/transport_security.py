"""TLS and mutual TLS for both doors, from PEM files, and the warning for an exposed server.

    --tls-cert server.pem --tls-key server.key                  TLS: clients verify the server
    ... --tls-client-ca clients-ca.pem                          mutual TLS: the server also
                                                                requires a client certificate
                                                                signed by that CA

The native port uses grpc.ssl_server_credentials; the web door hands the same files to hypercorn
(certfile/keyfile/ca_certs, with CERT_REQUIRED when a client CA is given). Files are read at
start, so a bad path fails start-up with its name rather than the first handshake.
"""
from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc


@dataclass(frozen=True)
class TlsFiles:
    cert: str  # PEM certificate chain of the server
    key: str  # PEM private key of that certificate
    client_ca: str = ""  # PEM CA bundle client certificates must chain to; "" = no client certificates

    def _read(self, path: str, what: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as e:
            raise OSError(f"cannot read the TLS {what} {path}: {e.strerror}") from e

    def grpc_credentials(self) -> grpc.ServerCredentials:
        pair = (self._read(self.key, "key (--tls-key)"), self._read(self.cert, "certificate (--tls-cert)"))
        ca = self._read(self.client_ca, "client CA (--tls-client-ca)") if self.client_ca else None
        return grpc.ssl_server_credentials([pair], root_certificates=ca, require_client_auth=ca is not None)

    def configure_hypercorn(self, config) -> None:
        for path, what in ((self.cert, "certificate"), (self.key, "key"), (self.client_ca, "client CA")):
            if path:
                self._read(path, what)
        config.certfile, config.keyfile = self.cert, self.key
        if self.client_ca:
            config.ca_certs = self.client_ca
            config.verify_mode = ssl.CERT_REQUIRED


def is_loopback(address: str) -> bool:
    """Whether host:port only accepts connections from this machine."""
    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name, "" or 0.0.0.0-like: reachable from elsewhere
        return False


def exposure_warnings(addresses: list[str], keys_on: bool, tls_on: bool) -> list[str]:
    """What to warn about for each address that listens beyond loopback."""
    out = []
    for address in addresses:
        if not address or is_loopback(address):
            continue
        if not keys_on:
            out.append(f"{address} listens beyond loopback WITHOUT API keys: anyone who can reach it can use it. "
                       "Make keys with `avatarforge keys add NAME --scopes generate --file keys.json` and start with "
                       "--keys-file keys.json")
        if not tls_on:
            out.append(f"{address} listens beyond loopback WITHOUT TLS: keys, DNA and images cross the network in "
                       "clear. Start with --tls-cert and --tls-key (and --tls-client-ca for mutual TLS)")
    return out
