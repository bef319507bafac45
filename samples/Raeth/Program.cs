// The seed's TP-Link scenario on the real guest. The Archer C20's switch tool, mtk7530_switch, asks
// the Ralink Ethernet driver for switch registers with ioctl(RAETH_ESW_REG_READ) and fails without
// the hardware. A C# handler answers the register reads with typed structs, and the tool carries on.
// The Archer C20 is a mipsel router, so the guest is mipsel unless --abi names another real guest.
// --firmware boots a firmware's own root filesystem instead (Portal's demo firmware by default): its
// boot stalls printing swRegRead without the handler, and completes with it (FirmwareStory.cs).
// Usage: dotnet run --project samples/Raeth [-- --abi x86_64|mipsel|aarch64|armel | --firmware [rootfs]]
using Microsoft.Extensions.Logging;
using Portal;
using Portal.Abi;
using Portal.Guests;
using Portal.Qemu;
using Portal.Qemu.Hosting;
using Portal.Samples;
using Portal.Samples.TpLink;

var abi = GuestAbi.MipsEl;
if (args is ["--firmware", .. var firmware] && firmware.Length <= 1)
{
    using var firmwareLogging = LoggerFactory.Create(builder => builder.AddProvider(new LineLoggerProvider()));
    return await FirmwareStory.RunAsync(firmware.FirstOrDefault(), firmwareLogging);
}
if (args is ["--abi", var name])
{
    if (!GuestAbi.TryParse(name, out var chosen) || !QemuGuest.RealGuestAbis.Contains(chosen))
    {
        Console.Error.WriteLine($"--abi {name}: the real guests are {string.Join(", ", QemuGuest.RealGuestAbis.Select(a => a.Name))}");
        return 2;
    }
    abi = chosen;
}
else if (args.Length != 0)
{
    Console.Error.WriteLine("usage: Raeth [--abi x86_64|mipsel|aarch64|armel | --firmware [rootfs]]");
    return 2;
}

using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(new LineLoggerProvider()));
Console.WriteLine($"Booting the {abi.Name} guest: QEMU (TCG), Debian's kernel, portal.ko...");
QemuGuest guest;
try
{
    guest = await QemuGuest.StartAsync(new QemuGuestOptions { Abi = abi });
}
catch (GuestPrerequisiteException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}

await using (guest)
{
    var command = GuestCommand.Of("mtk7530_switch", "table_del");
    Console.WriteLine();
    Console.WriteLine("-- mtk7530_switch table_del, no handler (there is no Ralink switch in this guest):");
    var run = await guest.RunAsync(command);
    Print(run.Output);

    var handlers = new List<string>();
    var succeeded = true;
    foreach (var (title, plugin) in new (string, object)[]
             {
                 ("the RAEth plugin (ioctl return: answer the register read)", new RaethPlugin(loggerFactory.CreateLogger("RAEth"))),
                 ("the advanced variant (ioctl enter, mtk7530_switch only: skip the call, write the value)", new RaethSkipPlugin(loggerFactory.CreateLogger("RAEthSkip"))),
             })
    {
        Console.WriteLine();
        Console.WriteLine($"-- mtk7530_switch table_del, with {title}:");
        await using var session = await PortalSession.AttachAsync(guest.Connection, new PortalSessionOptions { LoggerFactory = loggerFactory });
        await session.LoadPluginAsync(plugin);
        run = await guest.RunAsync(command);
        Print(run.Output);
        succeeded &= run.Output.Contains("done.", StringComparison.Ordinal);
        handlers.AddRange(session.Statistics.Handlers.Select(h => $"handler {h.Name}: calls={h.Calls} exchanges={h.Exchanges}"));
    }

    Console.WriteLine();
    foreach (var line in handlers)
        Console.WriteLine(line);
    return succeeded ? 0 : 1;
}

static void Print(string guestOutput)
{
    foreach (var line in guestOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        Console.WriteLine($"  [guest] {line}");
}
