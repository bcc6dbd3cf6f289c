"""TLS and mutual TLS on both doors, with a throwaway CA made at test time (no key is committed):
who gets served, who is turned away at the handshake, and the CLI's flags for it."""
from __future__ import annotations

import datetime
import ipaddress
import ssl

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from test_grpc_web import web_call

from avatarforge import cli
from avatarforge.client import AvatarForgeClient
from avatarforge.server.api_keys import KeyStore
from avatarforge.v1 import avatarforge_pb2 as pb


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(subject: str, issuer: tuple | None, *, ca=False, server=False):
    """A P-256 key and a certificate for it, signed by `issuer` (key, cert) or by itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    signer_key, signer_name = (issuer[0], issuer[1].subject) if issuer else (key, _name(subject))
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(signer_name).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                                          encipher_only=False, decipher_only=False), critical=True)
    elif server:
        b = (b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                          x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False))
    else:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    return key, b.sign(signer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, str]:
    """PEM paths: ca, server cert/key, client cert/key (same CA), rogue client cert/key (another CA)."""
    d = tmp_path_factory.mktemp("pki")
    ca = _issue("AvatarForge test CA", None, ca=True)
    rogue_ca = _issue("Someone else's CA", None, ca=True)
    made = {"ca": ca, "server": _issue("localhost", ca, server=True), "client": _issue("unity-editor", ca),
            "rogue": _issue("intruder", rogue_ca), "rogue_ca": rogue_ca}
    paths = {}
    for name, (key, cert) in made.items():
        (d / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (d / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
        paths[name], paths[name + "_key"] = str(d / f"{name}.pem"), str(d / f"{name}.key")
    return paths


@pytest.fixture(scope="module")
def tls_server(start_own_server, pki):
    return start_own_server(tls_cert=pki["server"], tls_key=pki["server_key"], web_address="127.0.0.1:0")


@pytest.fixture(scope="module")
def mtls_server(start_own_server, pki, tmp_path_factory):
    """Mutual TLS and API keys together: the key travels inside the TLS connection."""
    store = KeyStore([])
    key = store.add("studio", ("generate",))
    store.save(path := tmp_path_factory.mktemp("mtls-keys") / "keys.json")
    server = start_own_server(tls_cert=pki["server"], tls_key=pki["server_key"], tls_client_ca=pki["ca"],
                              keys_file=str(path), web_address="127.0.0.1:0")
    server.key = key
    return server


def served(address: str, **options) -> grpc.StatusCode:
    """OK if a Generate goes through, else the status the call failed with."""
    with AvatarForgeClient(address, timeout=10, **options) as c:
        try:
            assert c.generate(seeds=[1]).results[0].image.data
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()


def context(pki, cert: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=pki["ca"])
    if cert:
        ctx.load_cert_chain(pki[cert], pki[cert + "_key"])
    return ctx


def test_tls_serves_clients_that_trust_its_ca_on_both_doors(tls_server, pki):
    assert served(tls_server.address, ca_file=pki["ca"]) == grpc.StatusCode.OK
    assert served(tls_server.address) == grpc.StatusCode.UNAVAILABLE  # plaintext to a TLS port
    assert served(tls_server.address, ca_file=pki["rogue_ca"]) == grpc.StatusCode.UNAVAILABLE  # untrusted server
    reply = web_call(tls_server.web_address, "GetModel", pb.GetModelRequest(), tls=context(pki))
    assert reply.grpc_status == 0 and pb.ModelInfo.FromString(reply.messages[0]).name == "tiny"


def test_mutual_tls_turns_away_clients_without_a_certificate_from_its_ca(mtls_server, pki):
    mine = dict(ca_file=pki["ca"], client_cert=pki["client"], client_key=pki["client_key"])
    assert served(mtls_server.address, token=mtls_server.key, **mine) == grpc.StatusCode.OK
    assert served(mtls_server.address, **mine) == grpc.StatusCode.UNAUTHENTICATED  # a certificate is not a key
    assert served(mtls_server.address, token=mtls_server.key, ca_file=pki["ca"]) == grpc.StatusCode.UNAVAILABLE
    assert served(mtls_server.address, token=mtls_server.key, ca_file=pki["ca"], client_cert=pki["rogue"],
                  client_key=pki["rogue_key"]) == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("cert", [None, "rogue"])
def test_mutual_tls_on_the_web_door(mtls_server, pki, cert):
    auth = {"Authorization": f"Bearer {mtls_server.key}"}
    reply = web_call(mtls_server.web_address, "GetModel", pb.GetModelRequest(), auth, tls=context(pki, "client"))
    assert reply.grpc_status == 0
    with pytest.raises((ssl.SSLError, ConnectionError)):  # refused in the handshake, before any HTTP
        web_call(mtls_server.web_address, "GetModel", pb.GetModelRequest(), auth, tls=context(pki, cert))


def test_cli_flags_reach_a_mutual_tls_server_with_a_key(mtls_server, pki, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AVATARFORGE_TOKEN", mtls_server.key)
    args = ["generate", "--server", mtls_server.address, "--seeds", "0-2", "--out", str(tmp_path), "--no-progress",
            "--ca-file", pki["ca"], "--client-cert", pki["client"], "--client-key", pki["client_key"]]
    assert cli.main(args) == 0
    assert sorted(p.name for p in tmp_path.glob("seed*.png")) == [f"seed{s:06d}.png" for s in range(3)]
    monkeypatch.delenv("AVATARFORGE_TOKEN")
    assert cli.main(args) != 0  # the same flags without the key
    assert "authorization: Bearer" in capsys.readouterr().err
