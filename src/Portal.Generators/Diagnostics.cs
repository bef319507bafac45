using Microsoft.CodeAnalysis;

namespace Portal.Generators;

/// <summary>
/// Every diagnostic the generator reports, in ID order (PTL0001...; AnalyzerReleases.Unshipped.md lists them too).
/// A descriptor whose problems read too differently for one sentence takes the whole message as its argument ("{0}").
/// </summary>
internal static class Diagnostics
{
    private const string Category = "Portal.Generators";

    // RS1032 wants a one-sentence message without its period; these end with one, as the messages built whole ("{0}") do
    // and as they read before they had formats: one style for every message.
#pragma warning disable RS1032

    public static readonly DiagnosticDescriptor BadManifest = new(
        "PTL0001", "Malformed layout manifest", "The layout manifest {0} is malformed: {1}.", Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A *.portal.json file does not follow docs/layout-manifest.md; nothing is generated for it.");

    public static readonly DiagnosticDescriptor NameClash = new(
        "PTL0002", "Generated name clash", "{0} would be {1}, which is taken; it is named {2}.", Category, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: "Two C names map to the same C# name; one was renamed.");

    public static readonly DiagnosticDescriptor Unsupported = new(
        "PTL0003", "Unsupported C construct", "{0}", Category, DiagnosticSeverity.Info, isEnabledByDefault: true,
        description: "A member has a type C# proxies cannot represent; it was skipped. Informational, because system headers a header includes "
            + "are full of such members nobody uses; raise it with dotnet_diagnostic.PTL0003.severity = warning.");

    public static readonly DiagnosticDescriptor AbiMismatch = new(
        "PTL0004", "Member differs between ABIs", "{0} is {1} on {2} but {3} on {4}; on {4} it is treated as absent.", Category,
        DiagnosticSeverity.Info, isEnabledByDefault: true,
        description: "A member has a different kind of type on different ABIs; it is absent on the ABIs that disagree. Informational "
            + "(libc internals differ between ABIs); raise it with dotnet_diagnostic.PTL0004.severity = warning.");

    public static readonly DiagnosticDescriptor ReservedName = new(
        "PTL0005", "Member renamed: reserved name", "{0} would be the property {1}, which the generated code already has; it is named {1}Field.", Category,
        DiagnosticSeverity.Info, isEnabledByDefault: true,
        description: "A member's C# name is one the generated record or GuestPtr<T> already has (View, Size, Offset, Record...); it gets "
            + "the suffix Field. Informational, because libc unions (__size) hit it; raise it with dotnet_diagnostic.PTL0005.severity = warning.");

    public static readonly DiagnosticDescriptor BadByteOrder = new(
        "PTL0006", "Bad byte-order metadata", "{0} (header {1})", Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A PortalHeader's NetworkOrder or GuestOrder entry is malformed, names a member the header does not generate, "
            + "or names a member that is not an integer; a typo there would otherwise decode a member in the wrong byte order (docs/networking.md).");

    public static readonly DiagnosticDescriptor UnknownAbi = new(
        "PTL0007", "Unknown ABI", "The layout manifest {0} describes the ABI {1}, which Portal has no GuestAbiId for (it knows {2}); nothing is generated for {1}.",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A *.portal.json file describes an ABI the generated code cannot name (a manifest written by another version of "
            + "portal-headers, or by hand); its layouts are left out, and the build fails rather than lose them silently.");
#pragma warning restore RS1032
}
