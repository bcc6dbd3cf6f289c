// Failures as a game sees them: a status with a code and a message that says what to fix, never
// an exception.
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using V1 = AvatarForge.V1;

namespace AvatarForge.Client.Tests
{
    static class ErrorTests
    {
        public static async Task Run(AvatarForgeClient af, string address)
        {
            var bad = await af.GenerateAsync(new long[] { 1 }, new OutputOptions { Size = 33 });
            Check.That(bad.Status.Code == RpcCode.InvalidArgument && bad.Status.Message.Contains("size") &&
                       bad.Status.Field == "output.size",
                       "size 33 -> InvalidArgument naming the size, field output.size from the server's details " + bad.Status);
            using (var nope = new AvatarForgeClient(new ClientOptions { Address = address, Model = "nope" }))
            {
                var r = await nope.GenerateAsync(new long[] { 1 });
                Check.That(r.Status.Code == RpcCode.NotFound && r.Status.Message.Contains("nope") && r.Status.Message.Contains("tiny"),
                           "unknown model -> NotFound naming it and the loaded ones " + r.Status);
            }
            var garbage = await af.RenderAsync(new[] { new byte[] { 0xff, 0xff, 0xff } });
            Check.That(garbage.Status.Code == RpcCode.InvalidArgument && garbage.Status.Field == "dnas",
                       "garbage DNA -> InvalidArgument (field dnas) before sending " + garbage.Status);
            var empty = await af.MixAsync(new[] { new MixParent(new byte[0]) });
            Check.That(empty.Status.Code == RpcCode.InvalidArgument, "empty DNA -> InvalidArgument " + empty.Status);

            // The server's own answer for a DNA it can parse but rejects (a checksum that lies).
            var face = await af.GenerateAsync(new long[] { 9 });
            var dna = V1.CharacterDna.Parser.ParseFrom(face.Value[0].Dna);
            dna.Checksum = "sha256:" + new string('0', 64);
            var forged = await af.RenderAsync(new[] { Google.Protobuf.MessageExtensions.ToByteArray(dna) });
            Check.That(forged.Status.Code == RpcCode.InvalidArgument && forged.Status.Message.Length > 0,
                       "DNA with a wrong checksum -> InvalidArgument from the server " + forged.Status);

            var edit = af.StartEdit();
            Check.That(edit.Code == RpcCode.Unimplemented && edit.Message.Contains("RenderPreview"),
                       "StartEdit over gRPC-Web -> Unimplemented naming RenderPreview: " + edit.Message);
            // And the server's answer when EditSession is called anyway (one request message).
            var start = new V1.EditRequest { Start = new V1.EditStart { Dna = dna } };
            var server = await af.Transport.CallAsync("/avatarforge.v1.AvatarForge/EditSession", start, V1.EditEvent.Parser,
                                                      e => true, new CallContext(), CancellationToken.None);
            Check.That(server.Code == RpcCode.Unimplemented && server.Message.Contains("RenderPreview"),
                       "EditSession on the web door -> Unimplemented naming RenderPreview: " + server.Message);

            var closed = new TcpListener(System.Net.IPAddress.Loopback, 0);
            closed.Start();
            int port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
            closed.Stop();  // nothing listens there now
            using (var gone = new AvatarForgeClient(new ClientOptions { Address = "http://127.0.0.1:" + port }))
            {
                var r = await gone.ListModelsAsync();
                Check.That(r.Status.Code == RpcCode.Unavailable, "no server at the address -> Unavailable " + r.Status);
            }
            var models = await af.ListModelsAsync();
            Check.That(models.IsOk && models.Value.Count == 3, "calls carry 'authorization: Bearer test-token'; the server still answers");
        }
    }
}
