using System.Diagnostics;
using System.Globalization;
using System.Text;
using Portal.Testing.Processes;

namespace Portal.Testing.Programs;

/// <summary>
/// <c>portal-selftest</c>: the conformance suite's guest program (docs/guest-programs.md). The C
/// twin is <c>guest/programs/portal-selftest.c</c>; both must print the same lines.
/// </summary>
public static class PortalSelfTest
{
    /// <summary>The program's name.</summary>
    public const string Name = "portal-selftest";

    /// <summary>Default ioctl command of <c>desc</c>.</summary>
    public const ulong DescCommand = 0x7470;

    /// <summary>The descriptor's <c>magic</c>.</summary>
    public const ulong Magic = 0x504c5445535431;

    /// <summary>Size of <c>buf</c>.</summary>
    public const int BufferSize = 16384;

    /// <summary>Length of <c>long_str</c> (without its NUL).</summary>
    public const int LongStringLength = 9000;

    /// <summary>How often <c>hold</c> looks for its release file.</summary>
    public static readonly TimeSpan HoldPollInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>How long <c>hold</c> waits for its release file before it gives up (exit code 3).</summary>
    public static readonly TimeSpan HoldTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Offsets of the descriptor's u64 fields.</summary>
    public static class Desc
    {
        /// <summary>Offset of <c>magic</c>.</summary>
        public const int Magic = 0;
        /// <summary>Offset of <c>buf</c>.</summary>
        public const int Buf = 8;
        /// <summary>Offset of <c>buf_size</c>.</summary>
        public const int BufSize = 16;
        /// <summary>Offset of <c>ro</c>.</summary>
        public const int ReadOnly = 24;
        /// <summary>Offset of <c>unmapped</c>.</summary>
        public const int Unmapped = 32;
        /// <summary>Offset of <c>str</c>.</summary>
        public const int Str = 40;
        /// <summary>Offset of <c>long_str</c>.</summary>
        public const int LongStr = 48;
        /// <summary>Offset of <c>int32_at</c>.</summary>
        public const int Int32At = 56;
        /// <summary>Offset of <c>int64_at</c>.</summary>
        public const int Int64At = 64;
        /// <summary>Offset of <c>ptr_at</c>.</summary>
        public const int PtrAt = 72;
        /// <summary>Offset of <c>fd</c>.</summary>
        public const int Fd = 80;
        /// <summary>Offset of <c>pid</c>.</summary>
        public const int Pid = 88;
        /// <summary>Size of the descriptor.</summary>
        public const int Size = 96;
    }

    /// <summary>The program.</summary>
    public static async ValueTask<int> RunAsync(GuestProgramContext context)
    {
        var args = context.Arguments.Skip(1).ToList();
        if (args.Count >= 2 && args[0] == "--comm")
        {
            await context.SetNameAsync(args[1]).ConfigureAwait(false);
            args.RemoveRange(0, 2);
        }
        var generations = 0UL;
        if (args.Count >= 2 && args[0] == "--descend")
        {
            generations = ParseNumber(context, args[1]);
            args.RemoveRange(0, 2);
        }
        return await DescendAsync(context, generations, args).ConfigureAwait(false);
    }

    /// <summary><c>--descend N</c>: each generation forks the next and waits for it; the last runs the command.</summary>
    private static async ValueTask<int> DescendAsync(GuestProgramContext context, ulong generations, List<string> args) =>
        generations == 0
            ? await CommandAsync(context, args).ConfigureAwait(false)
            : await context.ForkAsync(child => DescendAsync(child, generations - 1, args)).ConfigureAwait(false);

    private static async ValueTask<int> CommandAsync(GuestProgramContext context, List<string> args)
    {
        if (args.Count == 0)
            return Usage(context);
        var devnull = (int)await context.OpenAsync("/dev/null").ConfigureAwait(false);
        switch (args[0])
        {
            case "desc":
                return await DescAsync(context, devnull, args.Count > 1 ? ParseNumber(context, args[1]) : DescCommand).ConfigureAwait(false);
            case "ioctl" when args.Count >= 3 && args.Count % 2 == 1:
                for (var i = 1; i < args.Count; i += 2)
                {
                    var (command, argument) = (ParseNumber(context, args[i]), ParseNumber(context, args[i + 1]));
                    var (rc, errno) = GuestProgramContext.Libc(await context.IoctlAsync(devnull, command, argument).ConfigureAwait(false));
                    context.PrintLine(Invariant($"ioctl cmd=0x{command:x} arg=0x{argument:x} rc={rc} errno={errno}"));
                }
                return 0;
            case "write" when args.Count >= 2:
                var buffer = (ulong)await context.MmapAsync(4096, PageProtection.ReadWrite).ConfigureAwait(false);
                foreach (var countText in args.Skip(1))
                {
                    var count = Math.Min(ParseNumber(context, countText), 4096);
                    var (rc, errno) = GuestProgramContext.Libc(await context.WriteAsync(devnull, buffer, count).ConfigureAwait(false));
                    context.PrintLine(Invariant($"write n={count} rc={rc} errno={errno}"));
                }
                return 0;
            case "named" when args.Count >= 3:
                return await NamedAsync(context, devnull, ParseNumber(context, args[1]), args.Skip(2)).ConfigureAwait(false);
            case "open":
                foreach (var path in args.Skip(1))
                {
                    var (rc, errno) = GuestProgramContext.Libc(await context.OpenAsync(path, 0 /* O_RDONLY */).ConfigureAwait(false));
                    context.PrintLine(Invariant($"open path={path} rc={rc} errno={errno}"));
                    if (rc >= 0)
                        await context.CloseAsync((int)rc).ConfigureAwait(false);
                }
                return 0;
            case "getpid":
                context.PrintLine(Invariant($"pid={await context.GetPidAsync().ConfigureAwait(false)}"));
                return 0;
            case "hold" when args.Count == 2:
                return await HoldAsync(context, args[1]).ConfigureAwait(false);
            case "func" when args.Count == 7:
                context.PrintLine(Invariant($"func rc={ProbeTarget(context, args.Skip(1).Select(a => ParseNumber(context, a)).ToArray())}"));
                return 0;
            default:
                return Usage(context);
        }
    }

    private static async ValueTask<int> DescAsync(GuestProgramContext context, int devnull, ulong command)
    {
        var memory = context.Memory;
        var page = (ulong)context.Abi.PageSize;
        async ValueTask<ulong> MapAsync(ulong length) => (ulong)await context.MmapAsync(length, PageProtection.ReadWrite).ConfigureAwait(false);

        // buf, followed by an unmapped page
        var buf = await MapAsync(BufferSize + page).ConfigureAwait(false);
        await context.MunmapAsync(buf + BufferSize, page).ConfigureAwait(false);
        memory.Write(buf, SelfTestPattern.Bytes(0, BufferSize));
        // ro: pattern, then read-only
        var ro = await MapAsync(page).ConfigureAwait(false);
        memory.Write(ro, SelfTestPattern.Bytes(0, (int)page));
        await context.MprotectAsync(ro, page, PageProtection.Read).ConfigureAwait(false);
        // long_str
        var longStr = await MapAsync(LongStringLength + 1).ConfigureAwait(false);
        memory.Write(longStr, [.. Enumerable.Range(0, LongStringLength).Select(i => (byte)('a' + i % 26)), 0]);
        // small items and the descriptor share a page
        var misc = await MapAsync(page).ConfigureAwait(false);
        var (str, int32At, int64At, ptrAt, desc) = (misc, misc + 64, misc + 72, misc + 80, misc + 128);
        memory.WriteCString(str, "portal-selftest");
        memory.WriteUInt32(int32At, 0x11223344);
        memory.WriteUInt64(int64At, 0x1122334455667788);
        memory.WritePointer(ptrAt, buf);
        var pid = await context.GetPidAsync().ConfigureAwait(false);
        ulong[] fields = [Magic, buf, BufferSize, ro, buf + BufferSize, str, longStr, int32At, int64At, ptrAt, (ulong)devnull, (ulong)pid];
        for (var i = 0; i < fields.Length; i++)
            memory.WriteUInt64(desc + (ulong)(8 * i), fields[i]);

        context.PrintLine(Invariant($"desc=0x{desc:x}"));
        var (rc, errno) = GuestProgramContext.Libc(await context.IoctlAsync(devnull, command, desc).ConfigureAwait(false));
        context.PrintLine(Invariant($"rc={rc} errno={errno}"));
        var strBytes = memory.Read(str, 63);
        var strEnd = Array.IndexOf(strBytes, (byte)0);
        context.PrintLine("str=" + System.Text.Encoding.UTF8.GetString(strBytes, 0, strEnd < 0 ? 63 : strEnd));
        context.PrintLine(Invariant($"int32=0x{memory.ReadUInt32(int32At):x8}"));
        context.PrintLine(Invariant($"int64=0x{memory.ReadUInt64(int64At):x16}"));
        context.PrintLine(Invariant($"ptr=0x{memory.ReadPointer(ptrAt):x}"));
        context.PrintLine(Invariant($"buf_crc=0x{SelfTestPattern.Crc32(memory.Read(buf, BufferSize)):x8}"));
        context.PrintLine(Invariant($"ro_crc=0x{SelfTestPattern.Crc32(memory.Read(ro, (int)page)):x8}"));
        return 0;
    }

    /// <summary>
    /// <c>portal_probe_target(a, b, c, d, e, f)</c> of the C program: a + 2b + 3c + 4d + 5e + 6f, wrapping
    /// at the register width, as a signed <c>long</c>. The C program's function is the real guests' target
    /// of function hooks (protocol.md §4.6); the emulated guest has none, so here it is only computed.
    /// </summary>
    private static long ProbeTarget(GuestProgramContext context, ulong[] v)
    {
        var sum = unchecked(v[0] + 2 * v[1] + 3 * v[2] + 4 * v[3] + 5 * v[4] + 6 * v[5]);
        return context.Abi.SignExtendRegister(sum);
    }

    /// <summary>Like <c>strtoul(text, NULL, 0)</c> at the guest's register width.</summary>
    private static ulong ParseNumber(GuestProgramContext context, string text)
    {
        var negative = text.StartsWith('-');
        var digits = negative ? text[1..] : text;
        var value = digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.Parse(digits[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : digits.Length > 1 && digits[0] == '0' ? Convert.ToUInt64(digits, 8)
            : ulong.Parse(digits, CultureInfo.InvariantCulture);
        return context.Abi.TruncateToRegister(negative ? unchecked(0 - value) : value);
    }

    /// <summary>
    /// ioctl(devnull, CMD, &amp;named) per name, as the C program does: <c>struct selftest_named</c>
    /// (tests/Portal.Conformance/headers/selftest.h) — a tag, the name (char[16]) at offset 4, and a
    /// pointer to a second copy of the name (at 24 on 64-bit ABIs, 20 on 32-bit ones).
    /// </summary>
    private static async ValueTask<int> NamedAsync(GuestProgramContext context, int devnull, ulong command, IEnumerable<string> names)
    {
        var pointerSize = context.Abi.PointerSize;
        var aliasAt = (4 + 16 + pointerSize - 1) / pointerSize * pointerSize;
        var page = (ulong)await context.MmapAsync((ulong)context.Abi.PageSize, PageProtection.ReadWrite).ConfigureAwait(false);
        foreach (var name in names)
        {
            var bytes = Encoding.UTF8.GetBytes(name);
            var record = new byte[aliasAt + pointerSize];
            context.Abi.WriteUInt32(record, 0x454d414e);
            bytes.AsSpan(0, Math.Min(bytes.Length, 15)).CopyTo(record.AsSpan(4));
            context.Memory.Write(page, record);
            var alias = page + 256;
            context.Memory.WriteCString(alias, name);
            context.Memory.WritePointer(page + (ulong)aliasAt, alias);
            var (rc, errno) = GuestProgramContext.Libc(await context.IoctlAsync(devnull, command, page).ConfigureAwait(false));
            context.PrintLine(Invariant($"named cmd=0x{command:x} name={Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 15))} rc={rc} errno={errno}"));
        }
        return 0;
    }

    /// <summary>
    /// <c>hold PATH</c>: a process with something to introspect (docs/guest-programs.md). In /tmp, PATH open
    /// read-only and one page of it mapped (so MAPPINGS and FILES both name it), it waits until PATH.release
    /// exists, looking every 10 ms as the C twin does with <c>access(2)</c>.
    /// </summary>
    private static async ValueTask<int> HoldAsync(GuestProgramContext context, string path)
    {
        var (_, chdirErrno) = GuestProgramContext.Libc(await context.ChdirAsync("/tmp").ConfigureAwait(false));
        if (chdirErrno != 0)
        {
            context.PrintLine(Invariant($"hold: chdir /tmp: errno={chdirErrno}"));
            return 1;
        }
        var (fd, openErrno) = GuestProgramContext.Libc(await context.OpenAsync(path, 0 /* O_RDONLY */).ConfigureAwait(false));
        if (fd < 0)
        {
            context.PrintLine(Invariant($"hold: open {path}: errno={openErrno}"));
            return 1;
        }
        var page = (ulong)context.Abi.PageSize;
        var (map, mmapErrno) = GuestProgramContext.Libc(await context.MmapFileAsync(page, PageProtection.Read, shared: false, (int)fd).ConfigureAwait(false));
        if (mmapErrno != 0)
        {
            context.PrintLine(Invariant($"hold: mmap {path}: errno={mmapErrno}"));
            return 1;
        }
        var pid = await context.GetPidAsync().ConfigureAwait(false);
        context.PrintLine(Invariant($"hold pid={pid} fd={fd} map=0x{context.Abi.TruncateToRegister((ulong)map):x}"));
        var release = path + ".release";
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < HoldTimeout)
        {
            if (await context.AccessAsync(release).ConfigureAwait(false) == 0)
                return 0;
            await Task.Delay(HoldPollInterval, context.CancellationToken).ConfigureAwait(false);
        }
        context.PrintLine("hold: timed out");
        return 3;
    }

    private static int Usage(GuestProgramContext context)
    {
        context.PrintLine("usage: portal-selftest [--comm NAME] [--descend N] desc [CMD] | ioctl CMD ARG [CMD ARG]... | named CMD NAME... | open PATH... | write N... | getpid | hold PATH | func A B C D E F");
        return 2;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
