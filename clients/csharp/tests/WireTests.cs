// What GrpcWebChannel puts on the wire, seen by a raw loopback socket: the server ignores request
// metadata today, so the auth header can only be checked where it arrives. The socket answers
// "trailers-only" (the status in the HTTP headers, no body), the form proxies such as Envoy use
// for errors, which our own server never sends.
using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;

namespace AvatarForge.Client.Tests
{
    static class WireTests
    {
        public static async Task Run()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var options = new ClientOptions { Address = "http://127.0.0.1:" + port, AuthToken = "test-token", Model = "tiny" };
            using (var af = new AvatarForgeClient(options))
            {
                var call = af.GenerateAsync(new long[] { 7 }, null, null, new CallSettings { Deadline = TimeSpan.FromSeconds(20) });
                string head;
                byte[] body;
                using (var peer = await listener.AcceptTcpClientAsync())
                {
                    var stream = peer.GetStream();
                    head = ReadHead(stream);
                    int length = int.Parse(Header(head, "content-length"));
                    body = new byte[length];
                    for (int got = 0; got < length;) got += stream.Read(body, got, length - got);
                    var reply = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: application/grpc-web+proto\r\n" +
                        "grpc-status: 16\r\ngrpc-message: token%20%E2%80%9Ctest-token%E2%80%9D%20rejected\r\nContent-Length: 0\r\n\r\n");
                    stream.Write(reply, 0, reply.Length);
                    var r = await call;
                    Check.That(r.Status.Code == RpcCode.Unauthenticated && r.Status.Message == "token \u201ctest-token\u201d rejected",
                               "trailers-only reply -> its status, message percent-decoded as UTF-8: " + r.Status);
                }
                listener.Stop();
                Check.That(head.StartsWith("POST /avatarforge.v1.AvatarForge/Generate HTTP/1.1\r\n"), "POST /avatarforge.v1.AvatarForge/Generate over HTTP/1.1");
                Check.That(Header(head, "authorization") == "Bearer test-token", "authorization: Bearer test-token");
                Check.That(Header(head, "content-type") == "application/grpc-web+proto" && Header(head, "x-grpc-web") == "1",
                           "content-type application/grpc-web+proto, x-grpc-web: 1");
                var timeout = Header(head, "grpc-timeout");
                Check.That(timeout == "20000m", "grpc-timeout: 20000m for a 20 s deadline (" + timeout + ")");
                var request = body.Length > 5 ? V1Request(body) : null;
                Check.That(body.Length > 5 && body[0] == 0 && (body[1] << 24 | body[2] << 16 | body[3] << 8 | body[4]) == body.Length - 5 &&
                           request != null && request.Model == "tiny" && request.Characters.Single().Seed == 7,
                           "body: one uncompressed frame holding the GenerateRequest (model tiny, seed 7)");
            }
        }

        static AvatarForge.V1.GenerateRequest V1Request(byte[] frame)
        {
            return AvatarForge.V1.GenerateRequest.Parser.ParseFrom(frame, 5, frame.Length - 5);
        }

        static string ReadHead(Stream s)
        {
            var head = new StringBuilder();
            while (!head.ToString().EndsWith("\r\n\r\n"))
            {
                int b = s.ReadByte();
                if (b < 0) throw new IOException("client closed before the end of the headers");
                head.Append((char)b);
            }
            return head.ToString();
        }

        static string Header(string head, string name)
        {
            foreach (var line in head.Split(new[] { "\r\n" }, StringSplitOptions.RemoveEmptyEntries).Skip(1))
            {
                int colon = line.IndexOf(':');
                if (colon > 0 && line.Substring(0, colon).Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
                    return line.Substring(colon + 1).Trim();
            }
            return null;
        }
    }
}
