using Microsoft.CodeAnalysis;

namespace Portal.Generators;

/// <summary>Every diagnostic the generator reports (PTL0001...).</summary>
internal static class Diagnostics
{
    private const string Category = "Portal.Generators";

    public static readonly DiagnosticDescriptor BadManifest = new(
        "PTL0001", "Malformed layout manifest", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A *.portal.json file does not follow docs/layout-manifest.md; nothing is generated for it.");

    public static readonly DiagnosticDescriptor NameClash = new(
        "PTL0002", "Generated name clash", "{0}", Category, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: "Two C names map to the same C# name; one was renamed.");

    public static readonly DiagnosticDescriptor ReservedName = new(
        "PTL0005", "Member renamed: reserved name", "{0}", Category, DiagnosticSeverity.Info, isEnabledByDefault: true,
        description: "A member's C# name is one the generated record or GuestPtr<T> already has (View, Size, Offset, Record...); it gets "
            + "the suffix Field. Informational, because libc unions (__size) hit it; raise it with dotnet_diagnostic.PTL0005.severity = warning.");

    public static readonly DiagnosticDescriptor Unsupported = new(
        "PTL0003", "Unsupported C construct", "{0}", Category, DiagnosticSeverity.Info, isEnabledByDefault: true,
        description: "A member has a type C# proxies cannot represent; it was skipped. Informational, because system headers a header includes "
            + "are full of such members nobody uses; raise it with dotnet_diagnostic.PTL0003.severity = warning.");

    public static readonly DiagnosticDescriptor AbiMismatch = new(
        "PTL0004", "Member differs between ABIs", "{0}", Category, DiagnosticSeverity.Info, isEnabledByDefault: true,
        description: "A member has a different kind of type on different ABIs; it is absent on the ABIs that disagree. Informational "
            + "(libc internals differ between ABIs); raise it with dotnet_diagnostic.PTL0004.severity = warning.");

    public static readonly DiagnosticDescriptor BadByteOrder = new(
        "PTL0006", "Bad byte-order metadata", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A PortalHeader's NetworkOrder or GuestOrder entry is malformed, names a member the header does not generate, "
            + "or names a member that is not an integer; a typo there would otherwise decode a member in the wrong byte order (docs/networking.md).");

    public static DiagnosticDescriptor ById(string id) => id switch
    {
        "PTL0006" => BadByteOrder,
        "PTL0001" => BadManifest,
        "PTL0002" => NameClash,
        "PTL0004" => AbiMismatch,
        "PTL0005" => ReservedName,
        _ => Unsupported,
    };
}
