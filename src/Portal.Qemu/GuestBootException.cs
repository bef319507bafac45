using System.Globalization;
using System.Text;
using Portal.Channels;

namespace Portal.Qemu;

/// <summary>
/// Booting the guest failed; the message says why (the panic text when the kernel panicked, how QEMU
/// ended when it died) and carries the end of QEMU's errors and of the guest console when they have any.
/// </summary>
public sealed class GuestBootException(string message) : Exception(message)
{
    /// <summary>Why the boot failed, then QEMU's errors and the console's end, each only when it has something to say.</summary>
    /// <param name="lost">How the guest ended, when it ended while booting.</param>
    /// <param name="error">What the boot step that gave up threw.</param>
    /// <param name="bootTimeout">The boot's time limit (a cancelled step means it ran out).</param>
    /// <param name="qemuErrors">QEMU's stderr.</param>
    /// <param name="console">The end of the guest console.</param>
    internal static GuestBootException Describe(GuestLostException? lost, Exception error, TimeSpan bootTimeout, string qemuErrors, string console)
    {
        var message = new StringBuilder();
        if (lost is not null)
        {
            // "the guest kernel panicked:\n<text>" → "The guest kernel panicked during boot:\n<text>"
            var (summary, details) = lost.Message.IndexOf(":\n", StringComparison.Ordinal) is var colon and >= 0
                ? (lost.Message[..colon], lost.Message[colon..])
                : (lost.Message, ".");
            message.Append(char.ToUpperInvariant(summary[0])).Append(summary.AsSpan(1)).Append(" during boot").Append(details);
        }
        else
        {
            var reason = error is OperationCanceledException
                ? string.Create(CultureInfo.InvariantCulture, $"did not become ready within {bootTimeout.TotalSeconds:F0} s")
                : error.Message.TrimEnd('.');
            message.Append("The QEMU guest ").Append(reason).Append('.');
        }
        if (qemuErrors.Trim().Length > 0 && !message.ToString().Contains(qemuErrors.Trim(), StringComparison.Ordinal))
            message.Append("\n--- QEMU ---\n").Append(string.Join('\n', qemuErrors.TrimEnd().Split('\n').TakeLast(20)));
        var panicked = lost?.Message.Contains("Kernel panic", StringComparison.Ordinal) == true;
        if (console.Trim().Length > 0 && !panicked)     // a panic's text is the console's end already
            message.Append("\n--- guest console (end) ---\n").Append(console);
        return new GuestBootException(message.ToString());
    }
}
