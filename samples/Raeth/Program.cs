// The seed's TP-Link scenario on the real guest. The Archer C20's switch tool, mtk7530_switch, asks
// the Ralink Ethernet driver for switch registers with ioctl(RAETH_ESW_REG_READ) and fails without
// the hardware. A C# handler answers the register reads with typed structs, and the tool carries on.
// Usage: dotnet run --project samples/Raeth
using Microsoft.Extensions.Logging;
using Portal;
using Portal.Guests;
using Portal.Qemu;
using Portal.Qemu.Hosting;
using Portal.Samples;
using Portal.Samples.TpLink;

using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(new LineLoggerProvider()));
Console.WriteLine("Booting the guest: QEMU (TCG), Debian's kernel, portal.ko (the first run builds the module and the programs)...");
QemuGuest guest;
try
{
    guest = await QemuGuest.StartAsync();
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
