using System.Globalization;
using Portal.Hypersyscalls;
using Portal.Testing.Programs;
using D = Portal.Testing.Programs.PortalSelfTest.Desc;

namespace Portal.Conformance;

/// <summary>The self-test area of <c>portal-selftest desc</c>, read by a handler (docs/guest-programs.md).</summary>
public sealed record SelfTestDescriptor(ulong Address, ulong Magic, ulong Buf, ulong BufSize, ulong ReadOnly, ulong Unmapped,
    ulong Str, ulong LongStr, ulong Int32At, ulong Int64At, ulong PtrAt, int Fd, int Pid)
{
    /// <summary>Reads the descriptor the held ioctl points to (argument 2): one exchange.</summary>
    public static async ValueTask<SelfTestDescriptor> ReadAsync(SyscallContext context)
    {
        var address = context.Args[2];
        var bytes = await context.Memory.ReadBytesAsync(address, D.Size);
        ulong At(int offset) => context.Abi.ReadUInt64(bytes.AsSpan(offset));
        var descriptor = new SelfTestDescriptor(address, At(D.Magic), At(D.Buf), At(D.BufSize), At(D.ReadOnly), At(D.Unmapped),
            At(D.Str), At(D.LongStr), At(D.Int32At), At(D.Int64At), At(D.PtrAt), (int)At(D.Fd), (int)At(D.Pid));
        if (descriptor.Magic != PortalSelfTest.Magic)
            throw new InvalidOperationException($"Descriptor magic 0x{descriptor.Magic:x} is not PLTEST1: wrong address or byte order.");
        return descriptor;
    }
}

/// <summary>The lines <c>portal-selftest desc</c> prints after its ioctl, parsed.</summary>
public sealed record SelfTestOutput(long Rc, int Errno, string Str, uint Int32, ulong Int64, ulong Ptr, uint BufCrc, uint RoCrc)
{
    /// <summary>Parses the program's output; throws with the whole output when a line is missing.</summary>
    public static SelfTestOutput Parse(string output)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("str=", StringComparison.Ordinal))
            {
                values["str"] = line[4..];      // the string may hold spaces
                continue;
            }
            foreach (var pair in line.Split(' ').Select(p => p.Split('=', 2)).Where(p => p.Length == 2))
                values[pair[0]] = pair[1];
        }
        string Get(string key) => values.TryGetValue(key, out var value) ? value : throw new FormatException($"No '{key}=' in output:\n{output}");
        static ulong Hex(string text) => Convert.ToUInt64(text, 16);
        return new SelfTestOutput(long.Parse(Get("rc"), CultureInfo.InvariantCulture), int.Parse(Get("errno"), CultureInfo.InvariantCulture),
            Get("str"), (uint)Hex(Get("int32")), Hex(Get("int64")), Hex(Get("ptr")), (uint)Hex(Get("buf_crc")), (uint)Hex(Get("ro_crc")));
    }
}
