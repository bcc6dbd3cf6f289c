// The C++ client against a server that requires mutual TLS and an API key (with_secure_server.sh
// starts it and passes ADDRESS PKI_DIR KEY): the right certificate and key are served; each thing
// missing is refused with the status a game can act on. Prints "N passed, N failed".
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "avatarforge/client.h"

using namespace avatarforge;

namespace {

int passed = 0, failed = 0;

void Check(bool ok, const std::string& what, const Status& s) {
  ok ? ++passed : ++failed;
  std::printf("%s %s [%d] %s\n", ok ? "PASS" : "FAIL", what.c_str(), s.code, s.message.c_str());
}

std::string Read(const std::string& path) {
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  return text.str();
}

constexpr int UNAUTHENTICATED = 16, UNAVAILABLE = 14;

// Debian's gRPC 1.51 can trip its own "ref_counted.h: prior > 0" assertion (and abort) when a
// channel is destroyed while a refused TLS handshake is still being torn down (about 1 run in 10
// here). The clients therefore live until the process ends, and it ends without tearing gRPC
// down: what is tested is each call's status, not gRPC's shutdown.
std::vector<std::unique_ptr<Client>> clients;

Status Call(ClientOptions options) {
  options.unary_deadline = std::chrono::milliseconds(20000);
  clients.push_back(std::make_unique<Client>(options));
  Client& af = *clients.back();
  GenerateRequest request;
  request.seeds = {7};
  auto faces = af.Generate(request);
  if (faces.ok() && (faces.value.size() != 1 || faces.value[0].image.empty()))
    return Status{2, "reply without a face", ""};
  return faces.status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: secure_test ADDRESS PKI_DIR KEY\n");
    return 2;
  }
  const std::string pki = std::string(argv[2]) + "/";
  ClientOptions good;
  good.address = argv[1];
  good.auth_token = argv[3];
  good.tls_root_certs_pem = Read(pki + "ca.pem");
  good.tls_client_cert_pem = Read(pki + "client.pem");
  good.tls_client_key_pem = Read(pki + "client.key");

  Status s = Call(good);
  Check(s.ok(), "mutual TLS + key: a face", s);

  ClientOptions no_key = good;
  no_key.auth_token.clear();
  s = Call(no_key);
  Check(s.code == UNAUTHENTICATED && s.message.find("Bearer") != std::string::npos,
        "no key: UNAUTHENTICATED saying how to send one", s);

  ClientOptions no_cert = good;
  no_cert.tls_client_cert_pem.clear();
  no_cert.tls_client_key_pem.clear();
  s = Call(no_cert);
  Check(s.code == UNAVAILABLE, "no client certificate: refused at the handshake", s);

  ClientOptions rogue_cert = good;
  rogue_cert.tls_client_cert_pem = Read(pki + "rogue_client.pem");
  rogue_cert.tls_client_key_pem = Read(pki + "rogue_client.key");
  s = Call(rogue_cert);
  Check(s.code == UNAVAILABLE, "client certificate from another CA: refused", s);

  ClientOptions wrong_root = good;
  wrong_root.tls_root_certs_pem = Read(pki + "rogue.pem");
  s = Call(wrong_root);
  Check(s.code == UNAVAILABLE, "server not signed by the trusted CA: refused", s);

  ClientOptions plaintext;
  plaintext.address = good.address;
  plaintext.auth_token = good.auth_token;
  s = Call(plaintext);
  Check(s.code == UNAVAILABLE, "plaintext to a TLS port: refused", s);

  std::printf("%d passed, %d failed\n", passed, failed);
  std::fflush(stdout);
  std::_Exit(failed == 0 ? 0 : 1);
}
