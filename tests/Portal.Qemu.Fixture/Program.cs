// Boots a QEMU guest, prints "ready qemu=<pid> work=<dir>", then waits for a line on stdin ("quit"
// disposes the guest; the tests usually kill this process instead, to check what is left behind).
using Microsoft.Extensions.Logging;
using Portal.Qemu;

using var logging = LoggerFactory.Create(builder => builder
    .AddConsole(options => options.LogToStandardErrorThreshold = LogLevel.Trace)
    .SetMinimumLevel(LogLevel.Debug));
await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { LoggerFactory = logging });
Console.WriteLine($"ready qemu={guest.QemuProcessId} work={guest.WorkDirectory}");
Console.Out.Flush();
while (Console.ReadLine() is { } line && line != "quit")
{
}
return 0;
