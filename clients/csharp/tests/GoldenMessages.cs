// The C# half of the golden-bytes check (tests/golden_bytes.py is the Python half and holds the
// same values, one for one): C# must parse Python's bytes into exactly these messages, and write
// bytes Python then compares with its own.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Google.Protobuf;
using V1 = AvatarForge.V1;

namespace AvatarForge.Client.Tests
{
    static class GoldenMessages
    {
        static V1.CharacterDna Dna()
        {
            var w = new[] { 1.5f, -2.25f, 3e10f, -0.0f }.SelectMany(BitConverter.GetBytes).ToArray();  // little-endian here (x86, ARM)
            return new V1.CharacterDna
            {
                SchemaVersion = 1, ModelName = "avatars64", ModelVersion = "v1.2",
                GeneratorSha256 = string.Concat(Enumerable.Repeat("0123456789abcdef", 4)),
                WPlus = ByteString.CopyFrom(w), NumWs = 2, WDim = 2, Seed = 42, TruncationPsi = 0f,
                Edits = { new V1.DirectionEdit { Direction = "smile", Strength = 1.25f }, new V1.DirectionEdit { Direction = "sefa/0", Strength = -3.5f } },
                Checksum = "sha256:" + string.Concat(Enumerable.Repeat("ab", 32)),
            };
        }

        static Dictionary<string, IMessage> Messages()
        {
            var generate = new V1.GenerateRequest
            {
                RequestId = "npc-\u00fc-\u20ac-42", Model = "tiny", TruncationPsi = 0.7f,
                Characters = { new V1.CharacterSource { Seed = 0 }, new V1.CharacterSource { Seed = 4294967295 }, new V1.CharacterSource { Dna = Dna() } },
                Output = new V1.OutputSpec { Format = V1.ImageFormat.RawBgra8, Size = 128, BottomUp = true },
            };
            var item = new V1.FaceResult
            {
                Index = 5, Seed = 0, RequestId = "b", Dna = Dna(),
                Image = new V1.FaceImage
                {
                    Data = ByteString.CopyFrom(Enumerable.Range(0, 256).Select(i => (byte)i).ToArray()),
                    Format = V1.ImageFormat.RawRgba8, Width = 8, Height = 8, RowStride = 32, BottomUp = true,
                },
                Timing = new V1.RenderTiming { QueueUs = 1, ComputeUs = 1L << 33, EncodeUs = 3, BatchSize = 16 },
            };
            var failed = new V1.FaceResult
            {
                Index = 6, Seed = 4294967296,
                Error = new V1.ItemError { Code = 11, Message = "seed 4294967296 is past 2^32-1", Field = "range.count" },
            };
            return new Dictionary<string, IMessage>
            {
                { "character_dna", Dna() },
                { "generate_request", generate },
                { "batch_request", new V1.GenerateBatchRequest
                    { RequestId = "b", List = new V1.SeedList { Seeds = { 0, 7, 1L << 40, -5 } }, StartIndex = 3, ProgressEvery = 10 } },
                { "batch_item", new V1.GenerateBatchEvent { Item = item } },
                { "batch_error", new V1.GenerateBatchEvent { Item = failed } },
                { "batch_summary", new V1.GenerateBatchEvent { Summary = new V1.BatchSummary
                    { RequestId = "b", Total = 40, Skipped = 25, Produced = 14, Failed = 1, WallUs = 123456789012 } } },
                { "preview_request", new V1.RenderPreviewRequest
                    {
                        RequestId = "p", Model = "tiny", Dna = Dna(), Edits = { new V1.DirectionEdit { Direction = "smile", Strength = -0.5f } },
                        Mix = new V1.MixSpec { Other = Dna(), Weight = 0f, LayerStart = 2, LayerEnd = 4 },
                        Output = new V1.OutputSpec { Format = V1.ImageFormat.Png, Quality = 95 },
                    } },
                { "mutate_request", new V1.MutateRequest { Dna = Dna(), Count = 3, Strength = 0.5f, Seed = -1, Output = new V1.OutputSpec() } },
                { "model_info", ModelInfo() },
            };
        }

        static V1.ModelInfo ModelInfo()
        {
            return new V1.ModelInfo
            {
                Name = "tiny", Version = "seed0", GeneratorSha256 = string.Concat(Enumerable.Repeat("ff", 32)), Description = "untrained",
                Resolution = 32, ZDim = 32, WDim = 32, NumWs = 8, SupportedSizes = { 16, 32, 64, 128 },
                Backend = new V1.BackendInfo { Backend = "torch", Device = "cpu", Precision = "fp32", Threads = 1, ThreadsReason = "fixed" },
                Directions =
                {
                    new V1.DirectionInfo { Name = "smile", Description = "Smile", LayerStart = 0, LayerEnd = 4, Kind = "supervised",
                                           StrengthMin = -3, StrengthMax = 3, DefaultStrength = 1.5f, Success = 0.75f },
                    new V1.DirectionInfo { Name = "sefa/0", Kind = "sefa", StrengthMin = -5, StrengthMax = 5, DefaultStrength = 2 },
                },
                DefaultTruncationPsi = 0.7f,
                Limits = new V1.ServerLimits { MaxBatch = 16, MaxUnaryItems = 64, MaxStreamItems = 1000000, MaxMessageBytes = 1L << 36 },
                DataLicence = "Apache-2.0",
            };
        }

        public static void Run(string folder)
        {
            Directory.CreateDirectory(Path.Combine(folder, "cs"));
            foreach (var entry in Messages())
            {
                File.WriteAllBytes(Path.Combine(folder, "cs", entry.Key + ".bin"), entry.Value.ToByteArray());
                var python = File.ReadAllBytes(Path.Combine(folder, "py", entry.Key + ".bin"));
                var parsed = entry.Value.Descriptor.Parser.ParseFrom(python);
                // Equals of protoc 3.21's C# ignores whether a proto3 `optional` field is set, so
                // the re-serialised bytes are compared too: they carry presence.
                Check.That(parsed.Equals(entry.Value) && parsed.ToByteArray().SequenceEqual(entry.Value.ToByteArray()),
                           "C# parses Python's " + entry.Key + " into the same values, presence included");
            }
            var status = File.ReadAllBytes(Path.Combine(folder, "py", "rpc_status.bin"));
            var violations = StatusDetails.ParseStatus(status);
            Check.That(violations.Select(v => v.Field + "=" + v.Description).SequenceEqual(new[]
                           { "output.size=use one of 16, 32, 64, 128", "edits[1].strength=out of range" }),
                       "google.rpc.Status from Python: BadRequest field violations decoded, RetryInfo skipped");
            var header = Convert.ToBase64String(status).TrimEnd('=');  // as gRPC sends grpc-status-details-bin
            Check.That(StatusDetails.ParseHeader(header).Count == 2 && StatusDetails.ParseHeader("%%not base64").Count == 0,
                       "grpc-status-details-bin header form: unpadded base64 decoded, garbage ignored");
        }
    }
}
