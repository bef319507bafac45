using Portal.Abi;
using Portal.Protocol;

namespace Portal.Memory;

/// <summary>An operation the guest executed failed there, with an errno (e.g. EBADF for a closed fd).</summary>
public class GuestOperationException : PortalException
{
    /// <summary>Creates the exception.</summary>
    public GuestOperationException(PortalOp operation, GuestErrno errno, long nativeErrno, string message)
        : base(message)
    {
        Operation = operation;
        Errno = errno;
        NativeErrno = nativeErrno;
    }

    /// <summary>The request that failed.</summary>
    public PortalOp Operation { get; }

    /// <summary>The error, in the generic Linux numbering.</summary>
    public GuestErrno Errno { get; }

    /// <summary>The error number exactly as the guest sent it (its own numbering).</summary>
    public long NativeErrno { get; }
}

/// <summary>A memory access failed at <see cref="Address"/> (EFAULT for an unmapped page, for example).</summary>
public class GuestFaultException : GuestOperationException
{
    /// <summary>Creates the exception.</summary>
    public GuestFaultException(PortalOp operation, ulong address, int bytesTransferred, GuestErrno errno, long nativeErrno, string message)
        : base(operation, errno, nativeErrno, message)
    {
        Address = address;
        BytesTransferred = bytesTransferred;
    }

    /// <summary>The address the failing access started at.</summary>
    public ulong Address { get; }

    /// <summary>Bytes transferred before the fault (0 when nothing was).</summary>
    public int BytesTransferred { get; }
}

/// <summary>A read stopped early: <see cref="DataRead"/> holds the bytes that were read, the rest faulted.</summary>
public sealed class GuestPartialReadException : GuestFaultException
{
    /// <summary>Creates the exception.</summary>
    public GuestPartialReadException(PortalOp operation, ulong address, int requested, ReadOnlyMemory<byte> data,
        GuestErrno errno, long nativeErrno, string message)
        : base(operation, address, data.Length, errno, nativeErrno, message)
    {
        Requested = requested;
        DataRead = data;
    }

    /// <summary>How many bytes were asked for (for a string, how many were scanned before the fault).</summary>
    public int Requested { get; }

    /// <summary>The bytes read before the fault.</summary>
    public ReadOnlyMemory<byte> DataRead { get; }
}
