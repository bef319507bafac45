using System.Runtime.InteropServices;
using Portal.Abi;
using Portal.Memory;
using Portal.Protocol;

namespace Portal.Cli.Inspecting;

/// <summary>Why a query failed, as the formatters show it.</summary>
internal enum QueryFailureKind
{
    /// <summary>The line is not a query (<see cref="QueryUsageException"/>): the message says its usage.</summary>
    Usage,

    /// <summary>The guest refused it with an errno (ENOENT for a path, ESRCH for a pid that is not a process…).</summary>
    Refused,

    /// <summary>The guest's Portal module serves no queries (an older portal.ko, or a guest without the QUERY feature).</summary>
    NotSupported,

    /// <summary>Anything else that ends one query but not the session (a file too long, a page that broke the protocol).</summary>
    Other,
}

/// <summary>A query that failed: <see cref="QueryText"/> as written, why, and the guest's errno when it gave one.</summary>
internal sealed record QueryFailure(string QueryText, QueryFailureKind Kind, string Message, GuestErrno? Errno = null)
{
    /// <summary>
    /// The failure an exception of a query means, or null for one that ends the whole session (the guest was
    /// lost, the run was interrupted): those are not a query's to report.
    /// </summary>
    public static QueryFailure? From(string queryText, Exception exception) => exception switch
    {
        QueryUsageException usage => new(queryText, QueryFailureKind.Usage, usage.Message),
        GuestOperationException refused => new(queryText, QueryFailureKind.Refused, Describe(refused), refused.Errno),
        NotSupportedException unsupported => new(queryText, QueryFailureKind.NotSupported, unsupported.Message),
        PortalProtocolException broken => new(queryText, QueryFailureKind.Other, $"the guest's answer broke the protocol: {broken.Message}"),
        // ReadAllBytesAsync on a file longer than the limit (a device that never ends, /dev/zero).
        InvalidDataException tooLong => new(queryText, QueryFailureKind.Other, tooLong.Message),
        _ => null,
    };

    /// <summary>
    /// What the errno means, as strerror says it ("No such file or directory"). The errno is in the generic Linux
    /// numbering, which is the host's own (Portal runs on Linux x86_64 and aarch64 hosts); an errno the host's C
    /// library does not know keeps the exception's own message.
    /// </summary>
    private static string Describe(GuestOperationException refused)
    {
        var text = Marshal.GetPInvokeErrorMessage((int)refused.Errno);
        return refused.Errno == GuestErrno.None || text.StartsWith("Unknown error", StringComparison.Ordinal) ? refused.Message : text;
    }
}
