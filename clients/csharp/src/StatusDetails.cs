// grpc-status-details-bin: a serialized google.rpc.Status whose `details` may hold a
// google.rpc.BadRequest naming the rejected fields. Decoded by hand with Google.Protobuf's
// CodedInputStream because Debian's protobuf source has no googleapis protos to generate them
// from; the layout is fixed by googleapis (google/rpc/status.proto, error_details.proto):
//   Status        { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
//   Any           { string type_url = 1; bytes value = 2; }
//   BadRequest    { repeated FieldViolation field_violations = 1; }
//   FieldViolation{ string field = 1; string description = 2; }
using System;
using System.Collections.Generic;
using Google.Protobuf;

namespace AvatarForge.Client
{
    public static class StatusDetails
    {
        const string BadRequestType = "type.googleapis.com/google.rpc.BadRequest";

        /// <summary>The header's value (base64, padded or not) -> the field violations it carries.
        /// Anything malformed yields none: details are a help for UIs, never a reason to fail.</summary>
        public static IReadOnlyList<FieldViolation> ParseHeader(string base64)
        {
            try
            {
                string s = base64.Trim();
                s = s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');  // gRPC may send it unpadded
                return ParseStatus(Convert.FromBase64String(s));
            }
            catch (FormatException) { return new FieldViolation[0]; }
            catch (InvalidProtocolBufferException) { return new FieldViolation[0]; }
        }

        /// <summary>A serialized google.rpc.Status -> the violations of its BadRequest details.</summary>
        public static IReadOnlyList<FieldViolation> ParseStatus(byte[] status)
        {
            var found = new List<FieldViolation>();
            var input = new CodedInputStream(status);
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                if (tag == WireFormat.MakeTag(3, WireFormat.WireType.LengthDelimited))
                    ReadAny(input.ReadBytes(), found);
                else
                    input.SkipLastField();
            }
            return found;
        }

        static void ReadAny(ByteString any, List<FieldViolation> found)
        {
            string typeUrl = "";
            ByteString value = ByteString.Empty;
            var input = any.CreateCodedInput();
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                if (tag == WireFormat.MakeTag(1, WireFormat.WireType.LengthDelimited)) typeUrl = input.ReadString();
                else if (tag == WireFormat.MakeTag(2, WireFormat.WireType.LengthDelimited)) value = input.ReadBytes();
                else input.SkipLastField();
            }
            if (typeUrl != BadRequestType) return;
            input = value.CreateCodedInput();
            while ((tag = input.ReadTag()) != 0)
            {
                if (tag == WireFormat.MakeTag(1, WireFormat.WireType.LengthDelimited))
                    found.Add(ReadViolation(input.ReadBytes()));
                else
                    input.SkipLastField();
            }
        }

        static FieldViolation ReadViolation(ByteString bytes)
        {
            var v = new FieldViolation();
            var input = bytes.CreateCodedInput();
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                if (tag == WireFormat.MakeTag(1, WireFormat.WireType.LengthDelimited)) v.Field = input.ReadString();
                else if (tag == WireFormat.MakeTag(2, WireFormat.WireType.LengthDelimited)) v.Description = input.ReadString();
                else input.SkipLastField();
            }
            return v;
        }
    }
}
