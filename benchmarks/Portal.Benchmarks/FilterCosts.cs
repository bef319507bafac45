using System.Globalization;
using Portal.Abi;
using Portal.Hypersyscalls;
using Portal.Qemu;

namespace Portal.Benchmarks;

/// <summary>
/// What each kind of guest-side filter adds to a syscall it filters out (the call never leaves the
/// guest), timed inside the guest by <c>portal-bench named</c>: ioctl(/dev/null, 0x7001, &amp;named)
/// with named = { "eth0", alias → name }, under one hook at a time whose filter rejects it. The
/// baseline is the same call in the same guest booted without portal.ko.
/// </summary>
internal static class FilterCosts
{
    private const int Calls = 30_000;
    private const ulong Command = 0x7001;

    /// <summary>The hooks measured, one at a time; each rejects every call portal-bench makes.</summary>
    private static readonly (string Kind, Func<HookBuilder, HookBuilder> Filter)[] Kinds =
    [
        ("EQ on the request number (the v1 filter)", b => b.WhereArg(1, ArgFilter.Equal(0x7999))),
        ("IN_SET, 32 values, none matching", b => b.WhereArg(1, ArgFilter.OneOf([.. Enumerable.Range(0x7100, 32).Select(v => (long)v)]))),
        ("MEM_EQ: the string at arg2 == \"wlan0\" (6 bytes read)", b => b.WhereArg(1, ArgFilter.Equal(Command)).WhereArgMemory(2, MemoryFilter.StringEquals("wlan0"))),
        ("MEM_EQ through a pointer: *(arg2+16) starts with \"wlan\"", b => b.WhereArg(1, ArgFilter.Equal(Command)).WhereArgMemory(2, MemoryFilter.StringStartsWith("wlan").ThroughPointerAt(16))),
        ("MEM_CONTAINS: the string at arg2 contains \"wlan\" (stops at the NUL)", b => b.WhereArg(1, ArgFilter.Equal(Command)).WhereArgMemory(2, MemoryFilter.StringContains("wlan"))),
        ("MEM_CONTAINS: 256 bytes at arg2 contain 8 bytes (no NUL stop, the longest read)", b => b.WhereArg(1, ArgFilter.Equal(Command)).WhereArgMemory(2, MemoryFilter.BytesContain("notthere"u8.ToArray(), MemoryFilter.MaxWindow))),
    ];

    /// <summary><c>filters [--abi NAME|all]</c>.</summary>
    public static async Task<int> RunAsync(string[] arguments)
    {
        if (GuestCosts.ParseAbis(arguments, "filters") is not { } abis)
            return 2;
        var columns = new List<(GuestAbi Abi, double Baseline, double[] Added)>();
        foreach (var abi in abis)
            columns.Add(await MeasureAsync(abi));

        Console.WriteLine();
        Console.WriteLine($"Added on a filtered-out ioctl, µs (lowest of {GuestCosts.Runs} portal-bench medians of {Calls:N0} calls, minus the same call without portal.ko):");
        Console.WriteLine();
        Console.WriteLine($"| filter | {string.Join(" | ", columns.Select(c => c.Abi.Name))} |");
        Console.WriteLine($"| --- |{string.Concat(columns.Select(_ => " ---: |"))}");
        for (var i = 0; i < Kinds.Length; i++)
            Console.WriteLine($"| {Kinds[i].Kind} | {string.Join(" | ", columns.Select(c => Us(c.Added[i])))} |");
        Console.WriteLine();
        foreach (var (abi, baseline, _) in columns)
            Console.WriteLine($"{abi.Name}: the call without portal.ko {Us(baseline)} µs");
        return 0;
    }

    private static async Task<(GuestAbi, double, double[])> MeasureAsync(GuestAbi abi)
    {
        string[] bench = ["named", Calls.ToString(CultureInfo.InvariantCulture), $"0x{Command:x}", "eth0"];
        Console.WriteLine($"{abi.Name}: booting the guest without portal.ko (baseline)...");
        double baseline;
        await using (var plain = await QemuGuest.StartAsync(new QemuGuestOptions { Abi = abi, LoadPortalModule = false }))
            baseline = await GuestCosts.MedianAsync(plain, bench);

        Console.WriteLine($"{abi.Name}: booting the guest with portal.ko...");
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { Abi = abi });
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        var added = new double[Kinds.Length];
        for (var i = 0; i < Kinds.Length; i++)
        {
            var hook = await Kinds[i].Filter(session.OnSyscall("ioctl", SyscallPhase.Enter)).RegisterAsync(_ => ValueTask.CompletedTask);
            var before = await session.GetGuestStatisticsAsync();
            added[i] = await GuestCosts.MedianAsync(guest, bench) - baseline;
            var after = await session.GetGuestStatisticsAsync();
            await hook.UnregisterAsync();
            // every call must have been filtered out in the guest, readably: no event, no fault
            if (after.EventsSent != before.EventsSent || after.FilterFaults != before.FilterFaults
                || after.FilteredOut - before.FilteredOut < GuestCosts.Runs * Calls)
                throw new InvalidOperationException($"{abi.Name} {Kinds[i].Kind}: events {after.EventsSent - before.EventsSent}, faults "
                    + $"{after.FilterFaults - before.FilterFaults}, filtered out {after.FilteredOut - before.FilteredOut} of {GuestCosts.Runs * Calls}");
            Console.WriteLine($"{abi.Name}: {Kinds[i].Kind}: +{Us(added[i])} µs");
        }
        return (abi, baseline, added);
    }

    private static string Us(double microseconds) => microseconds.ToString("F2", CultureInfo.InvariantCulture);
}
