using System.Reflection;
using Microsoft.Extensions.Logging;
using Portal.Cli.Plugins;
using Portal.Cli.Terminal;
using Portal.Abi;
using Portal.Channels;
using Portal.Hypersyscalls;
using Portal.Guests;
using Portal.Qemu;
using Portal.Qemu.Firmware;
using Portal.Qemu.Hosting;
using Portal.Qemu.Image;

namespace Portal.Cli.Running;

/// <summary>
/// The steps <c>portal run</c> and <c>portal boot</c> share, each mapping its failures to a message and
/// one of <see cref="ExitCodes"/>: loading the plugins, starting the guest, attaching a session and
/// registering the plugins' hooks.
/// </summary>
internal static class GuestSteps
{
    /// <summary>Logs on stderr as CliLoggerProvider shows them (plugins' information, Portal's warnings and progress; everything from debug with <paramref name="verbose"/>).</summary>
    public static ILoggerFactory CreateLoggerFactory(CliConsole console, bool verbose) =>
        LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(new CliLoggerProvider(console, verbose)));

    /// <summary>
    /// The plugins of every assembly, their hooks checked as registering them will check them (handler signatures,
    /// and with <paramref name="abi"/> the syscall names and operands), so a plugin that cannot work costs no boot;
    /// or null (the message said why: exit <see cref="ExitCodes.PluginFailure"/>). <paramref name="abi"/> is null
    /// when only the guest knows it (a firmware's architecture): registering checks the rest.
    /// </summary>
    public static List<object>? CreatePlugins(CliConsole console, IReadOnlyList<PluginAssembly> assemblies, ILoggerFactory loggerFactory, GuestAbi? abi)
    {
        var plugins = new List<object>();
        try
        {
            foreach (var assembly in assemblies)
                plugins.AddRange(assembly.CreatePlugins(loggerFactory));
        }
        catch (PluginLoadException e)
        {
            console.Fail(e.Message);
            return null;
        }
        foreach (var plugin in plugins)
        {
            try
            {
                PluginHooks.Check(plugin, abi);
            }
            catch (ArgumentException e)
            {
                console.Fail(CannotRegister(plugin, e.Message));
                return null;
            }
        }
        return plugins;
    }

    private static string CannotRegister(object plugin, string reason) => $"cannot register {plugin.GetType().FullName}: {reason}";

    /// <summary>Starts the guest as a progress step; on failure the guest is null and the exit code says why.</summary>
    public static async Task<(IGuest? Guest, int ExitCode)> StartAsync(CliConsole console, string description, Func<Task<IGuest>> start,
        InterruptSignals signals)
    {
        try
        {
            var guest = await console.StepAsync(description, start).ConfigureAwait(false);
            // Ours must run before the handler the guest just registered, which would stop QEMU outright.
            signals.RegisterAgain();
            return (guest, ExitCodes.Success);
        }
        catch (OperationCanceledException) when (signals.Interrupted)
        {
            console.Fail("interrupted while the guest was booting; it was stopped and nothing is left behind.");
            return (null, signals.ExitCode);
        }
        catch (GuestPrerequisiteException e)
        {
            console.Fail($"{e.Message} (or run: sudo portal setup)");
            return (null, ExitCodes.Unavailable);
        }
        catch (Exception e) when (e is FirmwareRootfsException or FileNotFoundException)
        {
            console.Fail(e.Message);
            return (null, ExitCodes.BadFirmware);
        }
        catch (Exception e) when (e is GuestBuildException or GuestBootException)
        {
            console.Fail(e.Message);
            return (null, ExitCodes.GuestFailure);
        }
    }

    /// <summary>
    /// Attaches a session to the guest and registers every plugin's hooks; on failure the session is null
    /// and the exit code says why. <paramref name="before"/> names what was about to start ("'cmd'");
    /// <paramref name="trace"/> (--trace) gets the session's timeline.
    /// </summary>
    public static async Task<(PortalSession? Session, int ExitCode)> AttachAsync(CliConsole console, IGuest guest, IReadOnlyList<object> plugins,
        ILoggerFactory loggerFactory, TraceFile? trace, string before, CancellationToken cancellationToken)
    {
        PortalSession session;
        try
        {
            session = await PortalSession.AttachAsync(guest.Connection, new PortalSessionOptions { LoggerFactory = loggerFactory, Tracer = trace?.Tracer },
                cancellationToken).ConfigureAwait(false);
        }
        catch (GuestLostException e)
        {
            console.Fail($"lost the guest before {before} started: {e.Message}");
            return (null, ExitCodes.GuestLost);
        }
        catch (PortalException e)
        {
            console.Fail($"cannot attach to the guest: {e.Message}");
            return (null, ExitCodes.GuestFailure);
        }
        foreach (var plugin in plugins)
        {
            try
            {
                await session.LoadPluginAsync(plugin, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is GuestLostException or ArgumentException or PortalException or TypeInitializationException
                                       or TargetInvocationException)
            {
                await session.DisposeAsync().ConfigureAwait(false);
                if (e is GuestLostException)
                {
                    console.Fail($"lost the guest before {before} started: {e.Message}");
                    return (null, ExitCodes.GuestLost);
                }
                var reason = e is TypeInitializationException or TargetInvocationException ? PluginErrors.Describe(e) : e.Message;
                console.Fail(CannotRegister(plugin, reason));
                return (null, ExitCodes.PluginFailure);
            }
        }
        return (session, ExitCodes.Success);
    }
}
