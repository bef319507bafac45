namespace Portal.Cli;

/// <summary>
/// What <c>portal</c>'s exit status means. <c>portal run</c> exits with the guest command's own status
/// when the command ran; Portal's own failures use the sysexits.h codes, which guest programs rarely use,
/// so a script can tell "the command failed" from "Portal could not run it".
/// </summary>
internal static class ExitCodes
{
    /// <summary>Everything worked (or: the guest command exited 0).</summary>
    public const int Success = 0;

    /// <summary><c>portal headers</c>: the header did not parse (the diagnostics are on stderr).</summary>
    public const int HeaderFailure = 1;

    /// <summary>
    /// <c>portal inspect</c> (and <c>boot --inspect</c>): a query failed: the guest refused it (ENOENT, ESRCH…), no
    /// mapping contains the address, a <c>run</c> command exited nonzero, or a shell line was not a query. The others
    /// still ran; stderr (or the JSON error document) says which failed and why.
    /// </summary>
    public const int QueryFailed = 1;

    /// <summary>Bad arguments: unknown option or command, missing guest command, malformed --file, a file that does not exist.</summary>
    public const int Usage = 64;

    /// <summary>A plugin assembly could not be loaded, has no plugin, or its hooks could not be registered.</summary>
    public const int PluginFailure = 65;

    /// <summary>
    /// <c>--rootfs</c>: the firmware's root filesystem cannot be used (EX_NOINPUT): missing, corrupt or
    /// truncated, empty, an architecture Portal has no guest for, no init, an entry that would leave the tree.
    /// </summary>
    public const int BadFirmware = 66;

    /// <summary>
    /// Something the guest or the header tool needs is not installed (<c>portal setup</c> installs it); for
    /// <c>portal inspect</c>: the guest's Portal module serves no introspection queries (no QUERY feature).
    /// </summary>
    public const int Unavailable = 69;

    /// <summary>The guest could not be built or booted (or attached to).</summary>
    public const int GuestFailure = 70;

    /// <summary>
    /// The guest was lost while the command ran (EX_OSERR): its kernel panicked or oopsed, it powered off,
    /// halted or rebooted, QEMU exited or was killed, or the guest stopped answering. The command did not
    /// exit; stderr says what happened (with the panic text).
    /// </summary>
    public const int GuestLost = 71;

    /// <summary>
    /// <c>portal run</c>: the command ran, but syscalls that a hook matched went unhandled (a handler threw or
    /// took longer than the guest's bound, the guest dropped events, a verdict's write failed...); the
    /// statistics on stderr say which. <c>--allow-unhandled</c> exits with the command's status instead.
    /// </summary>
    public const int SyscallsUnhandled = 75;

    /// <summary>
    /// <c>portal boot --until</c>: the firmware's console never showed the pattern within <c>--timeout</c> (the
    /// boot stalled; the last console lines are on stderr). 124, as timeout(1) exits.
    /// </summary>
    public const int BootStalled = 124;

    /// <summary>Stopped by SIGHUP (128 + SIGHUP: the terminal went away); the guest was shut down.</summary>
    public const int HungUp = 129;

    /// <summary>Interrupted by Ctrl-C (128 + SIGINT); the guest was shut down.</summary>
    public const int Interrupted = 130;

    /// <summary>Stopped by SIGQUIT (128 + SIGQUIT, Ctrl-\); the guest was shut down.</summary>
    public const int Quit = 131;

    /// <summary>Stopped by SIGTERM (128 + SIGTERM); the guest was shut down.</summary>
    public const int Terminated = 143;
}
