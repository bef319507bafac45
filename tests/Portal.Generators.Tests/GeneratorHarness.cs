using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Portal.Generators.Tests;

/// <summary>Runs the generator in-process over in-memory manifests, with step tracking on.</summary>
internal static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions = CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Preview);

    public static CSharpCompilation Compilation(params string[] sources) =>
        CSharpCompilation.Create("Harness", sources.Select(s => CSharpSyntaxTree.ParseText(s, ParseOptions)),
            [MetadataReference.CreateFromFile(typeof(object).Assembly.Location)],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));

    public static GeneratorDriver CreateDriver(params (string Path, string Text, string? Namespace)[] manifests) =>
        CreateDriverWithMetadata(manifests.Select(m => (m.Path, m.Text, m.Namespace is null ? [] : new Dictionary<string, string> { ["PortalNamespace"] = m.Namespace })).ToArray());

    /// <summary>A driver whose manifests carry item metadata as MSBuild hands it over (<c>PortalNamespace</c>, <c>PortalNetworkOrder</c>...).</summary>
    public static GeneratorDriver CreateDriverWithMetadata(params (string Path, string Text, Dictionary<string, string> Metadata)[] manifests)
    {
        var texts = manifests.Select(m => (AdditionalText)new InMemoryText(m.Path, m.Text)).ToImmutableArray();
        var options = new Options(manifests.ToDictionary(m => m.Path, m => m.Metadata));
        return CSharpGeneratorDriver.Create([new PortalGenerator().AsSourceGenerator()], texts, ParseOptions, options,
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
    }

    public static GeneratorDriverRunResult Run(params (string Path, string Text, string? Namespace)[] manifests) =>
        CreateDriver(manifests).RunGenerators(Compilation("class Anchor { }")).GetRunResult();

    public static GeneratorDriverRunResult Run(string path, string text, Dictionary<string, string> metadata) =>
        CreateDriverWithMetadata((path, text, metadata)).RunGenerators(Compilation("class Anchor { }")).GetRunResult();

    private sealed class InMemoryText(string path, string text) : AdditionalText
    {
        public override string Path => path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text);
    }

    private sealed class Options(Dictionary<string, Dictionary<string, string>> metadata) : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions { get; } = new Values(new() { ["build_property.RootNamespace"] = "Harness" });

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => new Values([]);

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) =>
            new Values(metadata.TryGetValue(textFile.Path, out var values)
                ? values.ToDictionary(pair => $"build_metadata.AdditionalFiles.{pair.Key}", pair => pair.Value)
                : []);
    }

    private sealed class Values(Dictionary<string, string> values) : AnalyzerConfigOptions
    {
        public override bool TryGetValue(string key, [NotNullWhen(true)] out string? value) => values.TryGetValue(key, out value);
    }
}
