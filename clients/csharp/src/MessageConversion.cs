// Generated messages <-> the client's plain values, in one place.
using System.Linq;
using Google.Protobuf;
using V1 = AvatarForge.V1;

namespace AvatarForge.Client
{
    static class MessageConversion
    {
        public static V1.OutputSpec ToSpec(OutputOptions o)
        {
            o = o ?? new OutputOptions();
            return new V1.OutputSpec { Format = (V1.ImageFormat)o.Format, Size = o.Size, Quality = o.Quality, BottomUp = o.BottomUp };
        }

        /// <summary>Stored DNA -> the message; null when the bytes are not a CharacterDna.</summary>
        public static V1.CharacterDna ParseDna(byte[] dna)
        {
            if (dna == null || dna.Length == 0) return null;
            try { return V1.CharacterDna.Parser.ParseFrom(dna); }
            catch (InvalidProtocolBufferException) { return null; }
        }

        public static byte[] DnaBytes(V1.CharacterDna dna) { return dna == null ? new byte[0] : dna.ToByteArray(); }

        public static Picture ToPicture(V1.FaceImage image)
        {
            if (image == null) return null;
            return new Picture
            {
                Format = (PictureFormat)image.Format, Width = image.Width, Height = image.Height,
                RowStride = image.RowStride, BottomUp = image.BottomUp, Data = image.Data.ToByteArray(),
            };
        }

        public static V1.FaceImage ToFaceImage(Picture p)
        {
            return new V1.FaceImage
            {
                Format = (V1.ImageFormat)p.Format, Width = p.Width, Height = p.Height, RowStride = p.RowStride,
                BottomUp = p.BottomUp, Data = ByteString.CopyFrom(p.Data ?? new byte[0]),
            };
        }

        public static CallTiming ToTiming(V1.RenderTiming t)
        {
            if (t == null) return default(CallTiming);
            return new CallTiming { QueueUs = t.QueueUs, ComputeUs = t.ComputeUs, EncodeUs = t.EncodeUs, BatchSize = t.BatchSize };
        }

        public static Face ToFace(V1.FaceResult r)
        {
            var face = new Face
            {
                Index = r.Index, Seed = r.HasSeed ? r.Seed : (long?)null, Dna = DnaBytes(r.Dna),
                Picture = ToPicture(r.Image), Timing = ToTiming(r.Timing),
            };
            if (r.Error != null)
                face.Error = new ItemError { Code = (RpcCode)r.Error.Code, Message = r.Error.Message, Field = r.Error.Field };
            return face;
        }

        public static V1.DirectionEdit ToEdit(DirectionEdit e)
        {
            return new V1.DirectionEdit { Direction = e.Direction ?? "", Strength = e.Strength };
        }

        public static V1.PartValue ToPartValue(PartValue p)
        {
            return new V1.PartValue { Part = p.Part ?? "", Value = p.Value ?? "" };
        }

        public static FaceParts ToFaceParts(V1.FaceParts f)
        {
            return new FaceParts
            {
                Index = f.Index, Source = (PartsSource)f.Source,  // same numbers as the proto enum
                Parts = f.Parts.Select(p => new ReadPart { Part = p.Part, Value = p.Value, Confidence = p.Confidence }).ToList(),
            };
        }

        public static ModelInfo ToModel(V1.ModelInfo m)
        {
            var info = new ModelInfo
            {
                Name = m.Name, Version = m.Version, Description = m.Description, GeneratorSha256 = m.GeneratorSha256,
                DataLicence = m.DataLicence, Resolution = m.Resolution, ZDim = m.ZDim, WDim = m.WDim, NumWs = m.NumWs,
                SupportedSizes = m.SupportedSizes.ToList(), DefaultTruncationPsi = m.DefaultTruncationPsi,
                Directions = m.Directions.Select(d => new DirectionInfo
                {
                    Name = d.Name, Description = d.Description, Kind = d.Kind, LayerStart = d.LayerStart, LayerEnd = d.LayerEnd,
                    StrengthMin = d.StrengthMin, StrengthMax = d.StrengthMax, DefaultStrength = d.DefaultStrength,
                }).ToList(),
                Parts = m.Parts.Select(p => new PartInfo
                {
                    Name = p.Name, Values = p.Values.ToList(), ClassifierAccuracy = p.HasClassifierAccuracy ? p.ClassifierAccuracy : (float?)null,
                }).ToList(),
            };
            if (m.Backend != null) { info.Backend = m.Backend.Backend; info.Device = m.Backend.Device; info.Precision = m.Backend.Precision; }
            if (m.Limits != null)
            {
                info.MaxUnaryItems = m.Limits.MaxUnaryItems;
                info.MaxStreamItems = m.Limits.MaxStreamItems;
                info.MaxMessageBytes = m.Limits.MaxMessageBytes;
            }
            return info;
        }

        public static BatchEvent ToBatchEvent(V1.GenerateBatchEvent e)
        {
            switch (e.EventCase)
            {
                case V1.GenerateBatchEvent.EventOneofCase.Item:
                    return new BatchEvent { Kind = BatchEventKind.Item, Item = ToFace(e.Item) };
                case V1.GenerateBatchEvent.EventOneofCase.Progress:
                    return new BatchEvent
                    {
                        Kind = BatchEventKind.Progress,
                        Progress = new BatchProgress { Completed = e.Progress.Completed, Failed = e.Progress.Failed, Total = e.Progress.Total },
                    };
                case V1.GenerateBatchEvent.EventOneofCase.Summary:
                    var s = e.Summary;
                    return new BatchEvent
                    {
                        Kind = BatchEventKind.Summary,
                        Summary = new BatchSummary
                        {
                            Total = s.Total, Skipped = s.Skipped, Produced = s.Produced, Failed = s.Failed, WallUs = s.WallUs,
                            Timing = ToTiming(s.Timing),
                        },
                    };
                default:
                    return null;  // an event kind of a later server: skipped
            }
        }
    }
}
