// Boots a QEMU guest, prints "ready qemu=<pid> work=<dir>", then waits for a line on stdin ("quit"
// disposes the guest; the tests usually kill this process instead, to check what is left behind).
using Portal.Qemu;

await using var guest = await QemuGuest.StartAsync();
Console.WriteLine($"ready qemu={guest.QemuProcessId} work={guest.WorkDirectory}");
Console.Out.Flush();
while (Console.ReadLine() is { } line && line != "quit")
{
}
return 0;
