// The seed's ioctl_interaction_test on an emulated guest: the guest program fills a struct ifreq and
// calls ioctl(SIOCDEVPRIVATE); a C# hypersyscall handler reads and rewrites it in guest memory and
// makes the call succeed, once one operation per call (as the seed does it) and once batched. Usage: dotnet run --project samples/IoctlInteraction [-- <abi>...]
using Microsoft.Extensions.Logging;
using Portal;
using Portal.Abi;
using Portal.Guests;
using Portal.Samples;
using Portal.Samples.IoctlInteraction;
using Portal.Testing;

GuestAbi[] abis;
try
{
    abis = args.Length > 0 ? [.. args.Select(GuestAbi.Parse)] : [GuestAbi.X86_64, GuestAbi.MipsEl];
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(new LineLoggerProvider()));
foreach (var abi in abis)
{
    Console.WriteLine($"== ioctl_interaction on an emulated {abi.Name} guest ==");
    await using var guest = new EmulatedGuest(abi);

    Console.WriteLine("-- without a handler:");
    Print((await guest.RunAsync(GuestCommand.Of("ioctl_interaction"))).Output);

    var command = GuestCommand.Of("ioctl_interaction") with { Environment = new Dictionary<string, string> { ["DEMO"] = "1" } };
    foreach (var plugin in new object[]
             {
                 new IoctlInteractionPlugin(loggerFactory.CreateLogger("ioctl_interaction")),
                 new BatchedIoctlInteractionPlugin(loggerFactory.CreateLogger("batched")),
             })
    {
        Console.WriteLine($"-- with {plugin.GetType().Name}:");
        await using var session = await PortalSession.AttachAsync(guest.Connection, new PortalSessionOptions { LoggerFactory = loggerFactory });
        await session.LoadPluginAsync(plugin);
        Print((await guest.RunAsync(command)).Output);
        foreach (var handler in session.Statistics.Handlers)
            Console.WriteLine($"handler {handler.Name}: calls={handler.Calls} exchanges={handler.Exchanges}");
    }
    Console.WriteLine();
}
return 0;

static void Print(string guestOutput)
{
    foreach (var line in guestOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        Console.WriteLine($"  [guest] {line}");
}
