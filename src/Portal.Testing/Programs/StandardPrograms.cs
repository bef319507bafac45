namespace Portal.Testing.Programs;

/// <summary>The programs every emulated guest has, by name (the C# twins of guest/programs/, and a shell for <c>sh -c</c>).</summary>
public static class StandardPrograms
{
    /// <summary>Name and entry point of each standard program.</summary>
    public static IReadOnlyList<(string Name, GuestProgram Program)> All { get; } =
    [
        (PortalSelfTest.Name, PortalSelfTest.RunAsync),
        (IoctlInteraction.Name, IoctlInteraction.RunAsync),
        (Mtk7530Switch.Name, Mtk7530Switch.RunAsync),
        (Shell.Name, Shell.RunAsync),
    ];
}
