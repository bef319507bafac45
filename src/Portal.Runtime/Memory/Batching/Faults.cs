using Portal.Abi;
using Portal.Protocol;

namespace Portal.Memory.Batching;

/// <summary>The exceptions operations end with, worded the same whichever way the operation travelled.</summary>
internal static class Faults
{
    public static GuestFaultException Read(GuestAbi abi, PortalOp op, ulong address, string where, int requested, byte[] readSoFar, long nativeErrno)
    {
        var errno = abi.ToErrno(nativeErrno);
        var what = op == PortalOp.ReadStr ? "string" : $"{requested} bytes";
        return readSoFar.Length == 0
            ? new GuestFaultException(op, address, 0, errno, nativeErrno, $"{op} of {what} at {where} failed: {errno} ({nativeErrno}).")
            : new GuestPartialReadException(op, address, requested, readSoFar, errno, nativeErrno,
                $"{op} of {what} at {where} stopped after {readSoFar.Length} bytes: {errno} ({nativeErrno}) at 0x{address + (ulong)readSoFar.Length:x}.");
    }

    public static GuestFaultException Write(GuestAbi abi, ulong address, string where, int requested, int written, long nativeErrno)
    {
        var errno = abi.ToErrno(nativeErrno);
        return new GuestFaultException(PortalOp.Write, address, written, errno, nativeErrno,
            $"Write of {requested} bytes at {where} failed after {written} bytes: {errno} ({nativeErrno}) at 0x{address + (ulong)written:x}.");
    }

    /// <summary>A pointer on the way to the operation's address could not be read.</summary>
    public static GuestFaultException Pointer(GuestAbi abi, PortalOp op, AddressResolver resolver)
    {
        var errno = abi.ToErrno(resolver.FailureErrno);
        return new GuestFaultException(op, 0, 0, errno, resolver.FailureErrno, $"{op} at {resolver}: {resolver.Failure}.");
    }

    public static GuestOperationException Failed(GuestAbi abi, PortalOp op, long nativeErrno, string what)
    {
        var errno = abi.ToErrno(nativeErrno);
        return new GuestOperationException(op, errno, nativeErrno, $"{what} failed in the guest: {errno} ({nativeErrno}).");
    }

    /// <summary>
    /// Rejects ranges that wrap around or leave a 32-bit guest's address space: the guest would
    /// otherwise see a truncated address. Reported as the EFAULT the guest would give; null when fine.
    /// </summary>
    public static GuestFaultException? OutOfRange(GuestAbi abi, PortalOp op, ulong address, int length)
    {
        var limit = abi.PointerSize == 4 ? 1UL << 32 : 0UL;
        var end = address + (ulong)length;
        if (end >= address && (limit == 0 || end <= limit))
            return null;
        return new GuestFaultException(op, address, 0, GuestErrno.EFAULT, abi.ToNativeErrno(GuestErrno.EFAULT),
            $"{op} of {length} bytes at 0x{address:x} leaves the {abi.PointerSize * 8}-bit address space (EFAULT, not sent to the guest).");
    }
}
