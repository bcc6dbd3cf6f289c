// The outcome of a call, as values: RPC failures never throw across this client's API, because a
// game calls it from async code where an unobserved exception disappears and a status check reads
// like the C++ core's (avatarforge::Result). Only programming errors (a null argument, a callback
// that throws) still throw.
using System.Collections.Generic;

namespace AvatarForge.Client
{
    /// <summary>gRPC status codes (the numbers are the wire values, as in google.rpc.Code).</summary>
    public enum RpcCode
    {
        Ok = 0,
        Cancelled = 1,
        Unknown = 2,
        InvalidArgument = 3,
        DeadlineExceeded = 4,
        NotFound = 5,
        AlreadyExists = 6,
        PermissionDenied = 7,
        ResourceExhausted = 8,
        FailedPrecondition = 9,
        Aborted = 10,
        OutOfRange = 11,
        Unimplemented = 12,
        Internal = 13,
        Unavailable = 14,
        DataLoss = 15,
        Unauthenticated = 16,
    }

    /// <summary>A field the server rejected (google.rpc.BadRequest.FieldViolation).</summary>
    public sealed class FieldViolation
    {
        public string Field = "";        // e.g. "output.size", "edits[1].strength"
        public string Description = "";
    }

    /// <summary>How a call ended. Message is the server's text, written for a developer.</summary>
    public sealed class RpcStatus
    {
        public static readonly RpcStatus Ok = new RpcStatus(RpcCode.Ok, "");

        public readonly RpcCode Code;
        public readonly string Message;
        /// <summary>Field violations from grpc-status-details-bin (google.rpc.BadRequest, which both
        /// of the server's doors send for INVALID_ARGUMENT); empty when there were none.</summary>
        public readonly IReadOnlyList<FieldViolation> Violations;

        public RpcStatus(RpcCode code, string message, IReadOnlyList<FieldViolation> violations = null)
        {
            Code = code;
            Message = message ?? "";
            Violations = violations ?? new FieldViolation[0];
        }

        public bool IsOk { get { return Code == RpcCode.Ok; } }

        /// <summary>The first field at fault, for a creator UI to mark; "" when none was named.</summary>
        public string Field { get { return Violations.Count > 0 ? Violations[0].Field : ""; } }

        public override string ToString()
        {
            return Field.Length > 0 ? string.Format("{0}: {1} [{2}]", Code, Message, Field)
                                    : string.Format("{0}: {1}", Code, Message);
        }
    }

    /// <summary>A value, or the status that says why there is none.</summary>
    public struct Result<T>
    {
        public readonly RpcStatus Status;
        public readonly T Value;

        public Result(T value) { Status = RpcStatus.Ok; Value = value; }
        public Result(RpcStatus status) { Status = status; Value = default(T); }

        public bool IsOk { get { return Status != null && Status.IsOk; } }

        public static Result<T> Fail(RpcCode code, string message)
        {
            return new Result<T>(new RpcStatus(code, message));
        }
    }
}
