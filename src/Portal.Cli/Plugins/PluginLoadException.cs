namespace Portal.Cli.Plugins;

/// <summary>A plugin assembly could not be used; the message says which and why.</summary>
internal sealed class PluginLoadException(string message, Exception? inner = null) : Exception(message, inner);
