using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using Portal.Generators.Emit;
using Portal.Generators.Model;

namespace Portal.Generators;

/// <summary>
/// Turns layout manifests (AdditionalFiles named *.portal.json, written by the PortalHeader build
/// step) into typed guest-record proxies. The pipeline carries only equatable models, so an edit
/// elsewhere in the project regenerates nothing.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class PortalGenerator : IIncrementalGenerator
{
    /// <summary>Tracking names of the pipeline steps (for cacheability tests).</summary>
    public static class Steps
    {
        public const string Manifests = nameof(Manifests);
        public const string Models = nameof(Models);
    }

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var rootNamespace = context.AnalyzerConfigOptionsProvider
            .Select(static (options, _) => options.GlobalOptions.TryGetValue("build_property.RootNamespace", out var value) ? value : null);

        var manifests = context.AdditionalTextsProvider
            .Where(static file => file.Path.EndsWith(".portal.json", StringComparison.OrdinalIgnoreCase))
            .Combine(context.AnalyzerConfigOptionsProvider)
            .Select(static (pair, cancellationToken) =>
            {
                var (file, options) = pair;
                var metadata = options.GetOptions(file);
                metadata.TryGetValue("build_metadata.AdditionalFiles.PortalNamespace", out var @namespace);
                metadata.TryGetValue("build_metadata.AdditionalFiles.PortalNetworkOrder", out var networkOrder);
                metadata.TryGetValue("build_metadata.AdditionalFiles.PortalGuestOrder", out var guestOrder);
                return new ManifestInput(file.Path, file.GetText(cancellationToken)?.ToString() ?? "", @namespace, networkOrder, guestOrder);
            })
            .WithTrackingName(Steps.Manifests);

        var models = manifests
            .Combine(rootNamespace)
            .Select(static (pair, _) => ModelBuilder.Build(pair.Left.Path, pair.Left.Text, pair.Left.Namespace, pair.Right,
                HeaderEmitter.KnownAbis, pair.Left.NetworkOrder, pair.Left.GuestOrder))
            .WithTrackingName(Steps.Models);

        context.RegisterSourceOutput(models, static (output, model) =>
        {
            foreach (var diagnostic in model.Diagnostics)
                output.ReportDiagnostic(diagnostic.ToDiagnostic());
            if (model.Abis.Count > 0)
                output.AddSource(model.HintName, SourceText.From(HeaderEmitter.Emit(model), System.Text.Encoding.UTF8));
        });
    }

    /// <summary>A manifest file's path, text, namespace override and byte-order metadata (equatable).</summary>
    private sealed record ManifestInput(string Path, string Text, string? Namespace, string? NetworkOrder, string? GuestOrder);
}
