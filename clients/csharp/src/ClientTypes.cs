// Plain values of the AvatarForge C# client, the same shapes as the C++ core's types.h. Pixels
// and DNA are byte[] (a texture upload takes them as they are); no Google.Protobuf type appears
// here, so game code never touches the generated messages. Names avoid UnityEngine's (Image,
// RawImage) so a MonoBehaviour can import both namespaces.
using System;
using System.Collections.Generic;

namespace AvatarForge.Client
{
    public enum PictureFormat
    {
        Png = 1,
        Jpeg = 2,
        Webp = 3,
        RawRgba8 = 4,  // R G B A per pixel: Unity's TextureFormat.RGBA32
        RawBgra8 = 5,  // B G R A per pixel: Unreal's PF_B8G8R8A8
    }

    /// <summary>How images come back. The default, raw RGBA8 at the model's native size, copies
    /// straight into a texture without a decoder.</summary>
    public sealed class OutputOptions
    {
        public PictureFormat Format = PictureFormat.RawRgba8;
        public int Size;         // square edge in pixels; 0 = native (ModelInfo.SupportedSizes lists the rest)
        public int Quality;      // JPEG/WebP 1..100; 0 = the server's default
        public bool BottomUp;    // raw rows bottom first: what Texture2D.LoadRawTextureData wants
    }

    /// <summary>One image. Raw: Data is Height rows of RowStride bytes (Width*4, no padding),
    /// alpha 255, first row the bottom one when BottomUp. Otherwise Data is the encoded file.</summary>
    public sealed class Picture
    {
        public PictureFormat Format;
        public int Width, Height, RowStride;
        public bool BottomUp;
        public byte[] Data = new byte[0];
        public bool IsRaw { get { return Format == PictureFormat.RawRgba8 || Format == PictureFormat.RawBgra8; } }
    }

    /// <summary>Where the time of a request went, in microseconds.</summary>
    public struct CallTiming
    {
        public long QueueUs, ComputeUs, EncodeUs;
        public int BatchSize;
    }

    /// <summary>One item that failed inside a call that went on.</summary>
    public sealed class ItemError
    {
        public RpcCode Code;
        public string Message = "";
        public string Field = "";  // the request field at fault, when the server named one
        public bool IsOk { get { return Code == RpcCode.Ok; } }
    }

    /// <summary>One produced face, or (Error.IsOk false) the reason this item failed.
    /// Dna is a serialized avatarforge.v1.CharacterDna: store it, send it back; never parse it.</summary>
    public sealed class Face
    {
        public long Index;
        public long? Seed;
        public byte[] Dna = new byte[0];
        public Picture Picture;
        public ItemError Error = new ItemError();
        public CallTiming Timing;
    }

    /// <summary>A named direction of the model at a strength (signed, in W units; 0 = no change).</summary>
    public struct DirectionEdit
    {
        public string Direction;
        public float Strength;
        public DirectionEdit(string direction, float strength) { Direction = direction; Strength = strength; }
    }

    public sealed class DirectionInfo
    {
        public string Name = "", Description = "", Kind = "";  // Kind: "supervised" | "sefa"
        public int LayerStart, LayerEnd;
        public float StrengthMin, StrengthMax, DefaultStrength;
    }

    /// <summary>A part of the faces a model draws (hair colour, top, accessory ...) and its values:
    /// a creator's dropdown.</summary>
    public sealed class PartInfo
    {
        public string Name = "";                          // e.g. "hair_color"
        public IList<string> Values = new List<string>();  // e.g. "AUBURN", "BLACK", ...: what SetParts accepts
        /// <summary>Held-out accuracy of the classifier head that reads this part off a render: how
        /// far a PartsSource.Classifier reading of it can be trusted; null when the server sent none.</summary>
        public float? ClassifierAccuracy;
    }

    /// <summary>One part set to one value by name, e.g. ("hair_color", "RED").</summary>
    public struct PartValue
    {
        public string Part;   // a PartInfo.Name
        public string Value;  // one of that part's PartInfo.Values
        public PartValue(string part, string value) { Part = part; Value = value; }
    }

    /// <summary>How a face's parts were found.</summary>
    public enum PartsSource
    {
        Unspecified = 0,
        Seed = 1,        // what the mapping drew from the seed, with the parts set since: exact
        Classifier = 2,  // the attribute classifier's reading of the render (encoded, mixed, edited faces)
    }

    public struct ReadPart
    {
        public string Part, Value;
        public float Confidence;  // 1 for PartsSource.Seed; the classifier's probability of Value otherwise
    }

    /// <summary>One face's parts: every part of ModelInfo.Parts, in that order.</summary>
    public sealed class FaceParts
    {
        public long Index;  // position in the request (seeds first, then DNAs)
        public PartsSource Source;
        public IList<ReadPart> Parts = new List<ReadPart>();

        /// <summary>The value read for `part`; "" when the reply has no such part.</summary>
        public string Value(string part)
        {
            foreach (var p in Parts) if (p.Part == part) return p.Value;
            return "";
        }
    }

    public sealed class ModelInfo
    {
        public string Name = "", Version = "", Description = "", GeneratorSha256 = "", DataLicence = "";
        public int Resolution, ZDim, WDim, NumWs;
        public IList<int> SupportedSizes = new List<int>();
        public string Backend = "", Device = "", Precision = "";
        public IList<DirectionInfo> Directions = new List<DirectionInfo>();
        public IList<PartInfo> Parts = new List<PartInfo>();  // the parts vocabulary; empty when the model draws no parts
        public float DefaultTruncationPsi = 1;
        public int MaxUnaryItems;        // characters per Generate call
        public long MaxStreamItems;      // items per GenerateBatch call
        public long MaxMessageBytes;     // the server's message size limit
    }

    /// <summary>Per-call settings; the defaults come from ClientOptions.</summary>
    public sealed class CallSettings
    {
        /// <summary>Time the call may take; null = the client's default for this kind of call,
        /// TimeSpan.Zero = no limit.</summary>
        public TimeSpan? Deadline;
        public string RequestId = "";  // echoed by the server; shows up in its logs
    }

    public sealed class ClientOptions
    {
        /// <summary>The server's gRPC-Web door, e.g. "http://127.0.0.1:8081" (--web-address).</summary>
        public string Address = "http://127.0.0.1:8081";
        /// <summary>Sent as "authorization: Bearer {AuthToken}" on every call when not empty.</summary>
        public string AuthToken = "";
        public string Model = "";  // the model calls use; "" = the server's default
        public TimeSpan UnaryDeadline = TimeSpan.FromSeconds(30);  // Zero = none
        public TimeSpan StreamDeadline = TimeSpan.Zero;            // GenerateBatch, Interpolate
        /// <summary>A raw 1024x1024 RGBA reply is just over 4 MiB, the default limit of most gRPC
        /// clients; the server allows 64 MiB, and so does this client.</summary>
        public int MaxReceiveBytes = 64 * 1024 * 1024;
    }
}
