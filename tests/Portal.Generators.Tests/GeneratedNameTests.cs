using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Generators.Tests;

/// <summary>
/// Generated names never collide with the code that uses them (issue 14, item 4): by default a header's types are
/// in &lt;RootNamespace&gt;.Headers.&lt;HeaderName&gt;, so code in the root namespace that writes Netdev.IFNAMSIZ
/// finds the constants class, not a namespace named Netdev.
/// </summary>
[TestClass]
public sealed class GeneratedNameTests
{
    private static string Manifest(string header) => $$"""
        { "version": 1, "header": "/project/headers/{{header}}", "manifests": [ {
            "abi": "x86_64", "pointerSize": 8, "bigEndian": false,
            "structs": [ { "name": "netdev_stats", "kind": "struct", "size": 4, "align": 4,
                           "fields": [ { "name": "rx", "offset": 0, "size": 4, "type": { "kind": "int", "spelling": "int", "size": 4, "signed": true } } ] } ],
            "constants": [ { "name": "IFNAMSIZ", "value": 16, "unsigned": false, "expression": "16" } ] } ] }
        """;

    /// <summary>The generated source and the user's code compiled together (the harness's RootNamespace is Harness).</summary>
    private static IReadOnlyList<Diagnostic> CompileWith(string header, string userCode)
    {
        var result = GeneratorHarness.Run(($"/project/obj/portal/{Path.GetFileNameWithoutExtension(header)}-0badc0de.portal.json", Manifest(header), null));
        Assert.IsEmpty(result.Diagnostics, string.Join("\n", result.Diagnostics));
        var generated = result.Results.Single().GeneratedSources.Single().SourceText.ToString();
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Append(typeof(Portal.Typed.GuestPtr<>).Assembly.Location)
            .Select(path => MetadataReference.CreateFromFile(path));
        var compilation = CSharpCompilation.Create("User",
            [CSharpSyntaxTree.ParseText(generated, GeneratorHarness.ParseOptions), CSharpSyntaxTree.ParseText(userCode, GeneratorHarness.ParseOptions)],
            references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        return [.. compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error)];
    }

    [TestMethod]
    public void Code_in_the_root_namespace_reaches_the_constants_and_types_of_a_header_by_default()
    {
        var errors = CompileWith("netdev.h", """
            using Harness.Headers.Netdev;
            namespace Harness;
            public static class Plugin
            {
                public const int NameSize = Netdev.IFNAMSIZ;
                public static int Size(Portal.Abi.GuestAbi abi) => NetdevStats.SizeOf(abi);
            }
            """);
        Assert.IsEmpty(errors, string.Join("\n", errors));
    }

    [TestMethod]
    public void A_header_named_like_an_enclosing_namespace_gets_a_constants_class_of_another_name()
    {
        // harness.h under RootNamespace Harness: a class Harness would lose to the namespace Harness.
        var errors = CompileWith("harness.h", """
            using Harness.Headers.Harness;
            namespace Harness;
            public static class Plugin
            {
                public const int NameSize = HarnessConstants.IFNAMSIZ;
            }
            """);
        Assert.IsEmpty(errors, string.Join("\n", errors));
    }
}
